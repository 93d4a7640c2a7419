//! `application_train.csv` / `application_test.csv`: one row per applicant.
//!
//! Frequencies, missingness and number grids follow the Kaggle file: amounts on Kaggle's grids
//! (income in 2,250 steps, credit in 4.5, annuity in 1.5, goods price in 4,500), DAYS_EMPLOYED at
//! the 365243 sentinel exactly for pensioners and the unemployed (~18 %), EXT_SOURCE_1 missing for
//! ~56 %, the building block (AVG/MODE/MEDI) missing together for about half the applicants.

use super::draw::{SynthRng, chance, exp1, int_in, normal, overdispersed, sigmoid, snap, unit};
use super::format::{FloatStyle, Row};
use super::plan::Profile;
use super::risk::Signals;
use super::vocab::Vocab;
use creditrisk_base::catalog::{DAYS_SENTINEL, RawTable};
use creditrisk_base::error::Result;

const T: RawTable = RawTable::ApplicationTrain;

/// Kaggle's REGION_POPULATION_RELATIVE values (a fixed set of regions) with rough frequencies
/// and the region rating typical for each.
const REGIONS: &[(f64, f64, i64)] = &[
    (0.035792, 5.3, 2),
    (0.04622, 4.3, 1),
    (0.030755, 3.9, 2),
    (0.025164, 3.9, 2),
    (0.026392, 3.7, 2),
    (0.031329, 3.7, 2),
    (0.028663, 3.5, 2),
    (0.019101, 3.4, 2),
    (0.072508, 2.7, 1),
    (0.020713, 2.7, 3),
    (0.01885, 2.6, 2),
    (0.020246, 2.5, 2),
    (0.018634, 2.5, 2),
    (0.022625, 2.4, 2),
    (0.015221, 2.3, 2),
    (0.006671, 2.2, 2),
    (0.010006, 2.2, 2),
    (0.009175, 2.0, 2),
    (0.0228, 2.0, 2),
    (0.032561, 2.0, 1),
    (0.018029, 1.9, 3),
    (0.010032, 1.8, 3),
    (0.00702, 1.6, 3),
    (0.003541, 1.5, 1),
    (0.018801, 1.5, 2),
    (0.0105, 1.4, 3),
    (0.008575, 1.3, 3),
    (0.00963, 1.2, 3),
    (0.007305, 1.1, 3),
    (0.008019, 1.0, 2),
    (0.003122, 0.9, 3),
    (0.019689, 0.9, 2),
    (0.016612, 0.8, 2),
    (0.010966, 0.8, 2),
    (0.006296, 0.7, 3),
    (0.002042, 0.5, 3),
    (0.001276, 0.3, 3),
    (0.00029, 0.05, 3),
];

/// FLAG_DOCUMENT_2..21: the one document most applicants provide (index 0 = document 2).
const DOCUMENTS: &[(usize, f64)] = &[
    (1, 0.71),
    (4, 0.088),
    (6, 0.081),
    (3, 0.015),
    (14, 0.01),
    (16, 0.008),
    (9, 0.004),
    (7, 0.004),
    (11, 0.0035),
    (12, 0.003),
    (13, 0.0012),
    (17, 0.0006),
    (18, 0.0005),
    (19, 0.0003),
    (15, 0.0003),
    (5, 0.0002),
    (2, 0.0001),
    (0, 0.00004),
    (8, 0.00002),
];

/// Building statistics (AVG columns, in catalog order): share present when the block is
/// present, and a sampler. Kaggle's missing shares run from 48 % to 70 % per column.
const BUILDING_PRESENT: f64 = 0.53;
const BUILDING_FIELD_PRESENT: [f64; 14] = [
    0.93, 0.78, 0.966, 0.632, 0.568, 0.88, 0.938, 0.947, 0.608, 0.766, 0.596, 0.94, 0.577, 0.845,
];

pub struct ApplicationVocab {
    contract: Vocab,
    gender: Vocab,
    yes_no: Vocab,
    suite: Vocab,
    income_type: Vocab,
    education: Vocab,
    family: Vocab,
    housing: Vocab,
    occupation: Vocab,
    weekday: Vocab,
    organization: Vocab,
    fondkapremont: Vocab,
    housetype: Vocab,
    walls: Vocab,
    emergency: Vocab,
    region_weights: Vec<f64>,
}

impl ApplicationVocab {
    pub fn new() -> Result<Self> {
        let org: Vec<(&str, f64)> = ORGANIZATION_WEIGHTS.to_vec();
        Ok(ApplicationVocab {
            contract: Vocab::new(
                T,
                "NAME_CONTRACT_TYPE",
                &[("Cash loans", 90.48), ("Revolving loans", 9.52)],
            )?,
            gender: Vocab::new(
                T,
                "CODE_GENDER",
                &[("F", 65.83), ("M", 34.17), ("XNA", 0.0013)],
            )?,
            yes_no: Vocab::new(T, "FLAG_OWN_CAR", &[("N", 1.0), ("Y", 1.0)])?,
            suite: Vocab::new(
                T,
                "NAME_TYPE_SUITE",
                &[
                    ("Unaccompanied", 80.8),
                    ("Family", 13.1),
                    ("Spouse, partner", 3.7),
                    ("Children", 1.06),
                    ("Other_B", 0.58),
                    ("Other_A", 0.28),
                    ("Group of people", 0.09),
                ],
            )?,
            income_type: Vocab::new(
                T,
                "NAME_INCOME_TYPE",
                &[
                    ("Working", 51.63),
                    ("Commercial associate", 23.29),
                    ("Pensioner", 18.0),
                    ("State servant", 7.06),
                    ("Unemployed", 0.0072),
                    ("Student", 0.0059),
                    ("Businessman", 0.0033),
                    ("Maternity leave", 0.0016),
                ],
            )?,
            education: Vocab::new(
                T,
                "NAME_EDUCATION_TYPE",
                &[
                    ("Secondary / secondary special", 71.02),
                    ("Higher education", 24.34),
                    ("Incomplete higher", 3.34),
                    ("Lower secondary", 1.24),
                    ("Academic degree", 0.053),
                ],
            )?,
            family: Vocab::new(
                T,
                "NAME_FAMILY_STATUS",
                &[
                    ("Married", 63.88),
                    ("Single / not married", 14.78),
                    ("Civil marriage", 9.68),
                    ("Separated", 6.43),
                    ("Widow", 5.23),
                    ("Unknown", 0.0007),
                ],
            )?,
            housing: Vocab::new(
                T,
                "NAME_HOUSING_TYPE",
                &[
                    ("House / apartment", 88.73),
                    ("With parents", 4.83),
                    ("Municipal apartment", 3.64),
                    ("Rented apartment", 1.59),
                    ("Office apartment", 0.85),
                    ("Co-op apartment", 0.36),
                ],
            )?,
            occupation: Vocab::new(
                T,
                "OCCUPATION_TYPE",
                &[
                    ("Laborers", 17.9),
                    ("Sales staff", 10.4),
                    ("Core staff", 9.0),
                    ("Managers", 6.9),
                    ("Drivers", 6.0),
                    ("High skill tech staff", 3.7),
                    ("Accountants", 3.2),
                    ("Medicine staff", 2.8),
                    ("Security staff", 2.2),
                    ("Cooking staff", 1.9),
                    ("Cleaning staff", 1.5),
                    ("Private service staff", 0.86),
                    ("Low-skill Laborers", 0.68),
                    ("Waiters/barmen staff", 0.44),
                    ("Secretaries", 0.42),
                    ("Realty agents", 0.24),
                    ("HR staff", 0.18),
                    ("IT staff", 0.17),
                ],
            )?,
            weekday: weekday_vocab(T)?,
            organization: Vocab::new(T, "ORGANIZATION_TYPE", &org)?,
            fondkapremont: Vocab::new(
                T,
                "FONDKAPREMONT_MODE",
                &[
                    ("reg oper account", 24.0),
                    ("reg oper spec account", 3.9),
                    ("org spec account", 1.8),
                    ("not specified", 1.8),
                ],
            )?,
            housetype: Vocab::new(
                T,
                "HOUSETYPE_MODE",
                &[
                    ("block of flats", 49.1),
                    ("specific housing", 0.49),
                    ("terraced house", 0.39),
                ],
            )?,
            walls: Vocab::new(
                T,
                "WALLSMATERIAL_MODE",
                &[
                    ("Panel", 21.5),
                    ("Stone, brick", 21.1),
                    ("Block", 3.0),
                    ("Wooden", 1.7),
                    ("Mixed", 0.75),
                    ("Monolithic", 0.58),
                    ("Others", 0.53),
                ],
            )?,
            emergency: Vocab::new(T, "EMERGENCYSTATE_MODE", &[("No", 51.8), ("Yes", 0.76)])?,
            region_weights: REGIONS.iter().map(|r| r.1).collect(),
        })
    }
}

/// Day of week an application starts (Kaggle: weekends are quiet).
pub fn weekday_vocab(table: RawTable) -> Result<Vocab> {
    Vocab::new(
        table,
        "WEEKDAY_APPR_PROCESS_START",
        &[
            ("TUESDAY", 17.5),
            ("WEDNESDAY", 16.9),
            ("MONDAY", 16.5),
            ("THURSDAY", 16.4),
            ("FRIDAY", 16.4),
            ("SATURDAY", 11.0),
            ("SUNDAY", 5.3),
        ],
    )
}

/// Kaggle's ORGANIZATION_TYPE frequencies (per cent); XNA is written for the sentinel rows only.
const ORGANIZATION_WEIGHTS: &[(&str, f64)] = &[
    ("Business Entity Type 3", 22.1),
    ("XNA", 0.0),
    ("Self-employed", 12.5),
    ("Other", 5.4),
    ("Medicine", 3.6),
    ("Business Entity Type 2", 3.4),
    ("Government", 3.4),
    ("School", 2.9),
    ("Trade: type 7", 2.5),
    ("Kindergarten", 2.2),
    ("Construction", 2.2),
    ("Business Entity Type 1", 1.9),
    ("Transport: type 4", 1.8),
    ("Trade: type 3", 1.1),
    ("Industry: type 9", 1.1),
    ("Industry: type 3", 1.07),
    ("Security", 1.06),
    ("Housing", 0.96),
    ("Industry: type 11", 0.88),
    ("Military", 0.86),
    ("Bank", 0.81),
    ("Agriculture", 0.8),
    ("Police", 0.76),
    ("Transport: type 2", 0.72),
    ("Postal", 0.7),
    ("Security Ministries", 0.64),
    ("Trade: type 2", 0.62),
    ("Restaurant", 0.59),
    ("Services", 0.51),
    ("University", 0.43),
    ("Industry: type 7", 0.43),
    ("Transport: type 3", 0.39),
    ("Industry: type 1", 0.34),
    ("Hotel", 0.31),
    ("Electricity", 0.31),
    ("Industry: type 4", 0.28),
    ("Trade: type 6", 0.2),
    ("Industry: type 5", 0.19),
    ("Insurance", 0.19),
    ("Telecom", 0.19),
    ("Emergency", 0.18),
    ("Industry: type 2", 0.15),
    ("Advertising", 0.14),
    ("Realtor", 0.13),
    ("Culture", 0.12),
    ("Industry: type 12", 0.12),
    ("Trade: type 1", 0.11),
    ("Mobile", 0.1),
    ("Legal Services", 0.1),
    ("Cleaning", 0.08),
    ("Transport: type 1", 0.065),
    ("Industry: type 6", 0.036),
    ("Industry: type 10", 0.036),
    ("Religion", 0.028),
    ("Industry: type 13", 0.022),
    ("Trade: type 4", 0.021),
    ("Trade: type 5", 0.016),
    ("Industry: type 8", 0.008),
];

/// One generated applicant: the values of the row, kept until the history has been generated
/// (the row carries TARGET, which depends on the history).
pub struct Applicant {
    pub sk_id_curr: i64,
    pub contract: usize,
    pub gender: usize,
    pub own_car: bool,
    pub own_realty: bool,
    pub children: i64,
    pub income: f64,
    pub credit: f64,
    pub annuity: Option<f64>,
    pub goods: Option<f64>,
    pub suite: Option<usize>,
    pub income_type: usize,
    pub education: usize,
    pub family: usize,
    pub housing: usize,
    pub region: usize,
    pub days_birth: i64,
    pub days_employed: i64,
    pub days_registration: f64,
    pub days_id_publish: i64,
    pub own_car_age: Option<f64>,
    pub phones: [i64; 6],
    pub occupation: Option<usize>,
    pub family_members: Option<f64>,
    pub rating: i64,
    pub rating_city: i64,
    pub weekday: usize,
    pub hour: i64,
    pub address_flags: [i64; 6],
    pub organization: usize,
    pub ext: [Option<f64>; 3],
    /// AVG, MODE, MEDI blocks of the 14 building statistics.
    pub building: [[Option<f64>; 14]; 3],
    pub fondkapremont: Option<usize>,
    pub housetype: Option<usize>,
    pub total_area: Option<f64>,
    pub walls: Option<usize>,
    pub emergency: Option<usize>,
    pub social: Option<[f64; 4]>,
    pub days_phone_change: f64,
    pub documents: [i64; 20],
    pub bureau_requests: Option<[f64; 6]>,
}

/// Draws one applicant and records the application's risk signals.
pub fn generate(
    rng: &mut SynthRng,
    p: &Profile,
    v: &ApplicationVocab,
    signals: &mut Signals,
) -> Applicant {
    let z = p.risk;
    let contract = v.contract.pick(rng);
    let gender = v.gender.pick(rng);
    let male = v.gender.code(gender) == "M";
    let income_type = v.income_type.pick(rng);
    let income_code = v.income_type.code(income_type);
    let pensioner = income_code == "Pensioner";
    let no_job = pensioner || income_code == "Unemployed";
    let education = v.education.pick(rng);
    let family = v.family.pick(rng);

    // Age: pensioners are older; younger applicants are riskier.
    let age = if pensioner {
        (59.0 + 4.5 * normal(rng)).clamp(45.0, 69.0)
    } else {
        (41.0 - 2.5 * z + 9.5 * normal(rng)).clamp(21.0, 68.0)
    };
    let days_birth = -((age * 365.25) as i64).max(7489);
    let employed_years = if no_job {
        None
    } else {
        Some(
            (exp1(rng) * 6.0 * (-0.25 * z).exp())
                .min(age - 18.0)
                .max(0.0),
        )
    };
    let days_employed = match employed_years {
        Some(y) => -((y * 365.25) as i64),
        None => DAYS_SENTINEL,
    };

    let own_car = chance(rng, if male { 0.55 } else { 0.23 });
    let own_realty = chance(rng, 0.694);
    let children = if pensioner || age > 55.0 {
        (chance(rng, 0.06)) as i64
    } else {
        pick_small(rng, &[0.68, 0.215, 0.093, 0.0125, 0.0015])
    };
    let married = matches!(v.family.code(family), "Married" | "Civil marriage");

    // Amounts on Kaggle's grids.
    let mut log_income = 11.9 + 0.45 * normal(rng) - 0.05 * z;
    log_income += match income_code {
        "Commercial associate" => 0.1,
        "Pensioner" => -0.25,
        "State servant" => 0.05,
        _ => 0.0,
    };
    if male {
        log_income += 0.1;
    }
    if v.education.code(education) == "Higher education" {
        log_income += 0.2;
    }
    let income = snap(log_income.exp(), 2250.0).clamp(27_000.0, 13_500_000.0);
    let cash = contract == 0;
    let (credit, annuity, goods) = if cash {
        let goods = snap(income * (1.15 + 0.55 * normal(rng)).exp(), 4500.0).clamp(40_500.0, 3.6e6);
        let insurance = if chance(rng, 0.35) {
            1.0
        } else {
            1.0 + 0.25 * unit(rng)
        };
        let credit = snap(goods * insurance, 4.5);
        let months =
            [10.0, 12.0, 15.0, 18.0, 24.0, 30.0, 36.0, 48.0, 60.0][int_in(rng, 0, 8) as usize];
        let monthly = (0.12 + 0.14 * unit(rng)) / 12.0;
        let rate = monthly / (1.0 - (1.0f64 + monthly).powf(-months));
        (credit, snap(credit * rate, 1.5), Some(goods))
    } else {
        let credit = snap(income * (0.2 + 1.3 * unit(rng)), 22500.0).clamp(22_500.0, 1_350_000.0);
        let goods = if chance(rng, 0.01) {
            None
        } else {
            Some(credit)
        };
        (credit, credit * 0.05, goods)
    };
    let annuity = if chance(rng, 0.00004) {
        None
    } else {
        Some(annuity)
    };

    let region = pick_weighted(rng, &v.region_weights);
    let mut rating = REGIONS[region].2;
    if chance(rng, 0.12) {
        rating = if rating == 2 {
            [1, 3][int_in(rng, 0, 1) as usize]
        } else {
            2
        };
    }
    let rating_city = if chance(rng, 0.93) {
        rating
    } else {
        (rating + int_in(rng, -1, 1)).clamp(1, 3)
    };

    let registration_cap = ((age - 18.0) * 365.25).max(0.0);
    let days_registration = -(unit(rng).powf(1.3) * registration_cap).floor();
    let days_id_publish = -((unit(rng).powf(0.9) * ((age - 14.0) * 365.25).min(7197.0)) as i64);
    let own_car_age = own_car.then(|| {
        if chance(rng, 0.01) {
            64.0 + int_in(rng, 0, 1) as f64
        } else {
            (exp1(rng) * 11.0).floor().min(60.0)
        }
    });
    let phones = [
        1,
        (!no_job) as i64,
        chance(rng, if no_job { 0.01 } else { 0.24 }) as i64,
        chance(rng, 0.998) as i64,
        chance(rng, 0.28) as i64,
        chance(rng, 0.057) as i64,
    ];
    let occupation = (!no_job && chance(rng, 0.838)).then(|| v.occupation.pick(rng));
    let family_members = Some((children + if married { 2 } else { 1 }) as f64);
    let weekday = v.weekday.pick(rng);
    let hour = (12.0 + 3.3 * normal(rng)).round().clamp(0.0, 23.0) as i64;
    let city_not_live = chance(rng, 0.078);
    let address_flags = [
        chance(rng, 0.015) as i64,
        (!no_job && chance(rng, 0.062)) as i64,
        (!no_job && chance(rng, 0.05)) as i64,
        city_not_live as i64,
        (!no_job && chance(rng, 0.28)) as i64,
        (!no_job && chance(rng, 0.22)) as i64,
    ];
    let organization = if no_job {
        v.organization.index("XNA")
    } else {
        v.organization.pick(rng)
    };

    // External scores: noisy views of the latent risk (EXT_SOURCE_1 and _3 also of age).
    let age_std = (age - 44.0) / 12.0;
    let ext = [
        (!chance(rng, 0.564))
            .then(|| sigmoid(-0.75 * z + 0.35 * age_std + 0.55 * normal(rng)).clamp(0.0146, 0.963)),
        (!chance(rng, 0.0021))
            .then(|| sigmoid(0.2 - 0.7 * z + 0.6 * normal(rng)).clamp(1e-6, 0.855)),
        (!chance(rng, 0.198)).then(|| {
            sigmoid(0.05 - 0.7 * z + 0.2 * age_std + 0.6 * normal(rng)).clamp(5e-4, 0.896)
        }),
    ];

    let (building, fondkapremont, housetype, total_area, walls, emergency) = building_block(rng, v);

    let social = (!chance(rng, 0.0033)).then(|| {
        let obs30 = overdispersed(rng, 1.42, 0.5) as f64;
        let default_share = sigmoid(-2.4 + 0.5 * z);
        let def30 = (0..obs30 as u32)
            .filter(|_| chance(rng, default_share))
            .count() as f64;
        let obs60 = obs30 + if chance(rng, 0.05) { 1.0 } else { 0.0 };
        let def60 = if def30 > 0.0 && chance(rng, 0.3) {
            def30 - 1.0
        } else {
            def30
        };
        [obs30, def30, obs60, def60]
    });
    let days_phone_change = if chance(rng, 0.12) {
        0.0
    } else {
        -(exp1(rng) * 1100.0).floor().min(4292.0)
    };
    let mut documents = [0i64; 20];
    let doc_roll = unit(rng);
    let mut acc = 0.0;
    for &(doc, w) in DOCUMENTS {
        acc += w;
        if doc_roll < acc {
            documents[doc] = 1;
            break;
        }
    }
    let bureau_requests = (!chance(rng, 0.135)).then(|| {
        [
            chance(rng, 0.006) as u32 as f64,
            chance(rng, 0.006) as u32 as f64,
            overdispersed(rng, 0.034, 0.5) as f64,
            overdispersed(rng, 0.27, 0.2) as f64,
            overdispersed(rng, 0.27, 0.4) as f64,
            overdispersed(rng, 1.9 + 0.2 * z.max(0.0), 2.0) as f64,
        ]
    });

    // Risk signals of the application.
    signals.ext_sources = ext;
    signals.age_years = age;
    signals.employed_years = employed_years;
    signals.income = income;
    signals.credit = credit;
    signals.annuity = annuity.unwrap_or(0.0);
    signals.goods = goods.unwrap_or(0.0);
    signals.male = male;
    signals.revolving = !cash;
    signals.own_car = own_car;
    signals.city_mismatch = city_not_live;
    signals.def_30_circle = social.map_or(0.0, |s| s[1]);
    signals.bureau_enquiries_year = bureau_requests.map_or(0.0, |r| r[5]);
    signals.category_effect = category_effect(
        v.education.code(education),
        income_code,
        occupation.map(|o| v.occupation.code(o)),
        rating,
    );

    Applicant {
        sk_id_curr: p.sk_id_curr,
        contract,
        gender,
        own_car,
        own_realty,
        children,
        income,
        credit,
        annuity,
        goods,
        suite: (!chance(rng, 0.0042)).then(|| v.suite.pick(rng)),
        income_type,
        education,
        family,
        housing: v.housing.pick(rng),
        region,
        days_birth,
        days_employed,
        days_registration,
        days_id_publish,
        own_car_age,
        phones,
        occupation,
        family_members,
        rating,
        rating_city,
        weekday,
        hour,
        address_flags,
        organization,
        ext,
        building,
        fondkapremont,
        housetype,
        total_area,
        walls,
        emergency,
        social,
        days_phone_change,
        documents,
        bureau_requests,
    }
}

/// Log-odds of the categorical fields (Kaggle's default rates by category, roughly).
fn category_effect(education: &str, income: &str, occupation: Option<&str>, rating: i64) -> f64 {
    let mut x = match education {
        "Higher education" => -0.35,
        "Academic degree" => -0.6,
        "Lower secondary" => 0.35,
        "Incomplete higher" => 0.1,
        _ => 0.0,
    };
    x += match income {
        "Unemployed" | "Maternity leave" => 1.0,
        "Working" => 0.15,
        "State servant" | "Pensioner" => -0.2,
        _ => 0.0,
    };
    x += match occupation {
        Some("Low-skill Laborers") => 0.5,
        Some("Drivers") => 0.25,
        Some("Laborers") | Some("Waiters/barmen staff") => 0.15,
        Some("Accountants") => -0.3,
        Some("High skill tech staff") => -0.2,
        Some("Managers") => -0.15,
        _ => 0.0,
    };
    x + match rating {
        1 => -0.25,
        3 => 0.35,
        _ => 0.0,
    }
}

type Building = (
    [[Option<f64>; 14]; 3],
    Option<usize>,
    Option<usize>,
    Option<f64>,
    Option<usize>,
    Option<usize>,
);

/// The building statistics block: missing together for about half the applicants; MODE and MEDI
/// are close to AVG, as in Kaggle.
fn building_block(rng: &mut SynthRng, v: &ApplicationVocab) -> Building {
    let mut out = [[None; 14]; 3];
    if !chance(rng, BUILDING_PRESENT) {
        return (out, None, None, None, None, None);
    }
    let lognormal =
        |rng: &mut SynthRng, median: f64, sd: f64| (median * (sd * normal(rng)).exp()).min(1.0);
    let floors_max = [
        1.0, 2.0, 3.0, 4.0, 5.0, 5.0, 9.0, 9.0, 10.0, 12.0, 16.0, 17.0, 25.0,
    ][int_in(rng, 0, 12) as usize];
    for (f, present) in BUILDING_FIELD_PRESENT.iter().enumerate() {
        if !chance(rng, *present) {
            continue;
        }
        let avg = match f {
            0 => lognormal(rng, 0.0876, 0.7),
            1 => lognormal(rng, 0.0763, 0.8),
            2 => 1.0 - lognormal(rng, 0.0224, 0.5),
            3 => 1.0 - lognormal(rng, 0.24, 0.4),
            4 => lognormal(rng, 0.0211, 1.0),
            5 => 0.08 * overdispersed(rng, 1.0, 0.8).min(12) as f64,
            6 => 0.0345 * (1 + overdispersed(rng, 3.0, 2.0).min(28)) as f64,
            7 => floors_max / 24.0,
            8 => (floors_max - int_in(rng, 0, 2) as f64).max(1.0) / 24.0,
            9 => lognormal(rng, 0.0481, 0.9),
            10 => lognormal(rng, 0.0756, 0.7),
            11 => lognormal(rng, 0.0745, 0.75),
            12 => {
                if chance(rng, 0.5) {
                    0.0
                } else {
                    lognormal(rng, 0.0039, 1.0)
                }
            }
            _ => {
                if chance(rng, 0.4) {
                    0.0
                } else {
                    lognormal(rng, 0.0036, 1.2)
                }
            }
        };
        let avg = snap(avg.clamp(0.0, 1.0), 0.0001);
        let jitter = |rng: &mut SynthRng, x: f64| {
            snap((x * (1.0 + 0.03 * normal(rng))).clamp(0.0, 1.0), 0.0001)
        };
        out[0][f] = Some(avg);
        out[1][f] = Some(jitter(rng, avg));
        out[2][f] = Some(jitter(rng, avg));
    }
    let fond = chance(rng, 0.596).then(|| v.fondkapremont.pick(rng));
    let house = chance(rng, 0.94).then(|| v.housetype.pick(rng));
    let total =
        chance(rng, 0.975).then(|| snap(lognormal(rng, 0.0688, 0.8).clamp(0.0, 1.0), 0.0001));
    let walls = chance(rng, 0.928).then(|| v.walls.pick(rng));
    let emergency = Some(v.emergency.pick(rng));
    (out, fond, house, total, walls, emergency)
}

fn pick_small(rng: &mut SynthRng, probs: &[f64]) -> i64 {
    let u = unit(rng);
    let mut acc = 0.0;
    for (k, p) in probs.iter().enumerate() {
        acc += p;
        if u < acc {
            return k as i64;
        }
    }
    probs.len() as i64
}

fn pick_weighted(rng: &mut SynthRng, weights: &[f64]) -> usize {
    let total: f64 = weights.iter().sum();
    let mut u = unit(rng) * total;
    for (i, w) in weights.iter().enumerate() {
        if u < *w {
            return i;
        }
        u -= w;
    }
    weights.len() - 1
}

/// Appends the applicant's row; `target` is `Some` for application_train only.
pub fn write_row(buf: &mut Vec<u8>, a: &Applicant, target: Option<u8>, v: &ApplicationVocab) {
    let mut r = Row::new(buf, FloatStyle::Bare);
    r.int(a.sk_id_curr);
    if let Some(t) = target {
        r.int(t as i64);
    }
    r.text(v.contract.field(a.contract))
        .text(v.gender.field(a.gender))
        .text(v.yes_no.field(a.own_car as usize))
        .text(v.yes_no.field(a.own_realty as usize))
        .int(a.children)
        .float(a.income, 3)
        .float(a.credit, 3)
        .opt_float(a.annuity, 3)
        .opt_float(a.goods, 3);
    opt_text(&mut r, &v.suite, a.suite);
    r.text(v.income_type.field(a.income_type))
        .text(v.education.field(a.education))
        .text(v.family.field(a.family))
        .text(v.housing.field(a.housing))
        .float(REGIONS[a.region].0, 6)
        .int(a.days_birth)
        .int(a.days_employed)
        .float(a.days_registration, 0)
        .int(a.days_id_publish)
        .opt_float(a.own_car_age, 0);
    for flag in a.phones {
        r.int(flag);
    }
    opt_text(&mut r, &v.occupation, a.occupation);
    r.opt_float(a.family_members, 0)
        .int(a.rating)
        .int(a.rating_city)
        .text(v.weekday.field(a.weekday))
        .int(a.hour);
    for flag in a.address_flags {
        r.int(flag);
    }
    r.text(v.organization.field(a.organization));
    for e in a.ext {
        r.opt_float(e, 9);
    }
    for block in &a.building {
        for value in block {
            r.opt_float(*value, 4);
        }
    }
    opt_text(&mut r, &v.fondkapremont, a.fondkapremont);
    opt_text(&mut r, &v.housetype, a.housetype);
    r.opt_float(a.total_area, 4);
    opt_text(&mut r, &v.walls, a.walls);
    opt_text(&mut r, &v.emergency, a.emergency);
    match a.social {
        Some(s) => {
            for x in s {
                r.float(x, 0);
            }
        }
        None => {
            r.null().null().null().null();
        }
    }
    r.float(a.days_phone_change, 0);
    for d in a.documents {
        r.int(d);
    }
    match a.bureau_requests {
        Some(q) => {
            for x in q {
                r.float(x, 0);
            }
        }
        None => {
            for _ in 0..6 {
                r.null();
            }
        }
    }
    r.end();
}

fn opt_text(r: &mut Row<'_>, v: &Vocab, i: Option<usize>) {
    match i {
        Some(i) => r.text(v.field(i)),
        None => r.null(),
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::draw::{Stream, StreamFactory};
    use crate::plan::plan;

    #[test]
    fn rows_have_every_column() {
        let v = ApplicationVocab::new().unwrap();
        let streams = StreamFactory::new(3);
        let people = plan(&streams, 50, 0);
        for p in &people {
            let mut rng = streams.stream(0, Stream::Rows);
            let mut s = Signals::default();
            let a = generate(&mut rng, p, &v, &mut s);
            let mut train = Vec::new();
            write_row(&mut train, &a, Some(0), &v);
            let mut test = Vec::new();
            write_row(&mut test, &a, None, &v);
            let count = |b: &[u8]| {
                csv::ReaderBuilder::new()
                    .has_headers(false)
                    .from_reader(b)
                    .records()
                    .next()
                    .unwrap()
                    .unwrap()
                    .len()
            };
            assert_eq!(count(&train), RawTable::ApplicationTrain.columns().len());
            assert_eq!(count(&test), RawTable::ApplicationTest.columns().len());
        }
    }
}
