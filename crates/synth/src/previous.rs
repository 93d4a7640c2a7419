//! `previous_application.csv`: earlier applications at Home Credit, and the monthly/instalment
//! tables hanging off the approved ones (instalments and POS months for cash and consumer loans,
//! card months, and for some cards instalments, for revolving loans).
//!
//! Contract type decides most codes (portfolio, product, goods, yield, combination), status
//! decides which fields exist: only approved loans have the DAYS_* schedule (365243 where a date
//! is not applicable or not reached), refusals carry a reject reason, unused offers `CLIENT`.

use super::applicants::{Applicant, weekday_vocab};
use super::credit_card;
use super::draw::{SynthRng, chance, exp1, int_in, logit, normal, sigmoid, snap, unit};
use super::installments;
use super::loan::Loan;
use super::out::ChunkOut;
use super::plan::Profile;
use super::pos_cash;
use super::risk::Signals;
use super::vocab::Vocab;
use creditrisk_base::catalog::{DAYS_SENTINEL, RawTable};
use creditrisk_base::error::Result;

const P: RawTable = RawTable::PreviousApplication;
const SENTINEL: f64 = DAYS_SENTINEL as f64;

/// Contract kinds, in the order of the type vocabulary below.
const CONSUMER: usize = 0;
const CASH: usize = 1;
const REVOLVING: usize = 2;

/// Status probabilities (Approved, Canceled, Refused, Unused offer) per contract type, chosen so
/// the totals match Kaggle (62 / 19 / 17 / 1.6 %).
const STATUS_BY_TYPE: [[f64; 4]; 4] = [
    [0.80, 0.06, 0.107, 0.033],
    [0.48, 0.30, 0.22, 0.0],
    [0.52, 0.26, 0.22, 0.0],
    [0.0, 1.0, 0.0, 0.0],
];

pub struct PreviousVocab {
    contract: Vocab,
    status: Vocab,
    weekday: Vocab,
    yes_no: Vocab,
    purpose: Vocab,
    payment: Vocab,
    reject: Vocab,
    suite: Vocab,
    client: Vocab,
    goods: Vocab,
    portfolio: Vocab,
    product: Vocab,
    channel: Vocab,
    industry: Vocab,
    yield_group: Vocab,
    combination: Vocab,
    pub installments: installments::InstalmentVocab,
    pub pos: pos_cash::PosVocab,
    pub card: credit_card::CardVocab,
}

impl PreviousVocab {
    pub fn new() -> Result<Self> {
        let v = |col: &str, w: &[(&str, f64)]| Vocab::new(P, col, w);
        Ok(PreviousVocab {
            contract: v(
                "NAME_CONTRACT_TYPE",
                &[
                    ("Consumer loans", 43.7),
                    ("Cash loans", 44.8),
                    ("Revolving loans", 11.6),
                    ("XNA", 0.02),
                ],
            )?,
            status: v(
                "NAME_CONTRACT_STATUS",
                &[
                    ("Approved", 1.0),
                    ("Canceled", 1.0),
                    ("Refused", 1.0),
                    ("Unused offer", 1.0),
                ],
            )?,
            weekday: weekday_vocab(P)?,
            yes_no: v("FLAG_LAST_APPL_PER_CONTRACT", &[("N", 1.0), ("Y", 1.0)])?,
            purpose: v(
                "NAME_CASH_LOAN_PURPOSE",
                &[
                    ("XAP", 0.0),
                    ("XNA", 0.0),
                    ("Repairs", 23.7),
                    ("Other", 15.6),
                    ("Urgent needs", 8.3),
                    ("Buying a used car", 2.9),
                    ("Building a house or an annex", 2.7),
                    ("Everyday expenses", 2.4),
                    ("Medicine", 2.2),
                    ("Payments on other loans", 1.9),
                    ("Education", 1.6),
                    ("Journey", 1.2),
                    ("Purchase of electronic equipment", 1.0),
                    ("Buying a new car", 1.0),
                    ("Wedding / gift / holiday", 0.9),
                    ("Buying a home", 0.9),
                    ("Car repairs", 0.8),
                    ("Furniture", 0.7),
                    ("Buying a holiday home / land", 0.5),
                    ("Business development", 0.4),
                    ("Gasification / water supply", 0.3),
                    ("Buying a garage", 0.1),
                    ("Hobby", 0.05),
                    ("Money for a third person", 0.03),
                    ("Refusal to name the goal", 0.02),
                ],
            )?,
            payment: v(
                "NAME_PAYMENT_TYPE",
                &[
                    ("Cash through the bank", 76.0),
                    ("XNA", 23.0),
                    ("Non-cash from your account", 0.8),
                    ("Cashless from the account of the employer", 0.15),
                ],
            )?,
            reject: v(
                "CODE_REJECT_REASON",
                &[
                    ("XAP", 0.0),
                    ("HC", 60.0),
                    ("LIMIT", 19.0),
                    ("SCO", 12.6),
                    ("CLIENT", 0.0),
                    ("SCOFR", 4.6),
                    ("XNA", 1.8),
                    ("VERIF", 1.2),
                    ("SYSTEM", 0.25),
                ],
            )?,
            suite: v(
                "NAME_TYPE_SUITE",
                &[
                    ("Unaccompanied", 60.0),
                    ("Family", 25.0),
                    ("Spouse, partner", 8.0),
                    ("Children", 3.7),
                    ("Other_B", 2.0),
                    ("Other_A", 1.0),
                    ("Group of people", 0.26),
                ],
            )?,
            client: v(
                "NAME_CLIENT_TYPE",
                &[
                    ("Repeater", 73.7),
                    ("New", 18.0),
                    ("Refreshed", 8.1),
                    ("XNA", 0.1),
                ],
            )?,
            goods: v(
                "NAME_GOODS_CATEGORY",
                &[
                    ("XNA", 0.0),
                    ("Mobile", 13.5),
                    ("Consumer Electronics", 7.3),
                    ("Computers", 6.3),
                    ("Audio/Video", 6.0),
                    ("Furniture", 3.2),
                    ("Photo / Cinema Equipment", 1.5),
                    ("Construction Materials", 1.5),
                    ("Clothing and Accessories", 1.4),
                    ("Auto Accessories", 0.4),
                    ("Jewelry", 0.4),
                    ("Homewares", 0.3),
                    ("Medical Supplies", 0.2),
                    ("Vehicles", 0.2),
                    ("Sport and Leisure", 0.2),
                    ("Gardening", 0.16),
                    ("Other", 0.16),
                    ("Office Appliances", 0.15),
                    ("Tourism", 0.1),
                    ("Medicine", 0.1),
                    ("Direct Sales", 0.03),
                    ("Fitness", 0.013),
                    ("Additional Service", 0.008),
                    ("Education", 0.006),
                    ("Weapon", 0.005),
                    ("Insurance", 0.004),
                    ("House Construction", 0.0001),
                    ("Animals", 0.0001),
                ],
            )?,
            portfolio: v(
                "NAME_PORTFOLIO",
                &[
                    ("POS", 1.0),
                    ("Cash", 1.0),
                    ("XNA", 1.0),
                    ("Cards", 1.0),
                    ("Cars", 0.0),
                ],
            )?,
            product: v(
                "NAME_PRODUCT_TYPE",
                &[("XNA", 0.0), ("x-sell", 75.0), ("walk-in", 25.0)],
            )?,
            channel: v(
                "CHANNEL_TYPE",
                &[
                    ("Credit and cash offices", 0.0),
                    ("Country-wide", 50.0),
                    ("Stone", 22.0),
                    ("Regional / Local", 11.0),
                    ("Contact center", 0.0),
                    ("AP+ (Cash loan)", 0.0),
                    ("Channel of corporate sales", 0.0),
                    ("Car dealer", 0.1),
                ],
            )?,
            industry: v(
                "NAME_SELLER_INDUSTRY",
                &[
                    ("XNA", 0.0),
                    ("Consumer electronics", 48.0),
                    ("Connectivity", 33.0),
                    ("Furniture", 7.0),
                    ("Construction", 3.6),
                    ("Clothing", 2.8),
                    ("Industry", 2.2),
                    ("Auto technology", 0.6),
                    ("Jewelry", 0.3),
                    ("MLM partners", 0.14),
                    ("Tourism", 0.06),
                ],
            )?,
            yield_group: v(
                "NAME_YIELD_GROUP",
                &[
                    ("XNA", 0.0),
                    ("middle", 33.0),
                    ("high", 30.0),
                    ("low_normal", 28.0),
                    ("low_action", 8.0),
                ],
            )?,
            combination: v("PRODUCT_COMBINATION", COMBINATIONS)?,
            installments: installments::InstalmentVocab::new()?,
            pos: pos_cash::PosVocab::new()?,
            card: credit_card::CardVocab::new()?,
        })
    }
}

/// PRODUCT_COMBINATION codes; the generator picks by name according to contract and channel.
const COMBINATIONS: &[(&str, f64)] = &[
    ("Cash", 1.0),
    ("POS household with interest", 1.0),
    ("POS mobile with interest", 1.0),
    ("Cash X-Sell: middle", 1.0),
    ("Cash X-Sell: low", 1.0),
    ("Card Street", 1.0),
    ("POS industry with interest", 1.0),
    ("POS household without interest", 1.0),
    ("Card X-Sell", 1.0),
    ("Cash Street: high", 1.0),
    ("Cash X-Sell: high", 1.0),
    ("Cash Street: middle", 1.0),
    ("Cash Street: low", 1.0),
    ("POS mobile without interest", 1.0),
    ("POS other with interest", 1.0),
    ("POS industry without interest", 1.0),
    ("POS others without interest", 1.0),
];

/// Monthly payment of a loan at a yearly rate over `months`.
fn annuity(credit: f64, months: f64, yearly: f64) -> f64 {
    let r = yearly / 12.0;
    credit * r / (1.0 - (1.0 + r).powf(-months))
}

/// Writes the applicant's previous applications and their child rows.
pub fn generate(
    rng: &mut SynthRng,
    p: &Profile,
    a: &Applicant,
    v: &PreviousVocab,
    out: &mut ChunkOut,
    signals: &mut Signals,
) {
    signals.prev_apps = p.previous_apps;
    let names = |vocab: &Vocab, code: &str| vocab.index(code);
    for k in 0..p.previous_apps {
        let sk_id_prev = p.first_prev_id + k as i64;
        let kind = v.contract.pick(rng);
        let mut probs = STATUS_BY_TYPE[kind];
        // Riskier applicants are refused more often.
        if probs[2] > 0.0 {
            let refused = sigmoid(logit(probs[2]) + 0.6 * p.risk);
            let rest = (1.0 - refused) / (1.0 - probs[2]);
            probs = [probs[0] * rest, probs[1] * rest, refused, probs[3] * rest];
        }
        let u = unit(rng);
        let status = if u < probs[0] {
            0
        } else if u < probs[0] + probs[1] {
            1
        } else if u < probs[0] + probs[1] + probs[2] {
            2
        } else {
            3
        };
        let (approved, canceled) = (status == 0, status == 1);
        if status == 2 {
            signals.prev_refused += 1;
        }
        let mean_age = if kind == REVOLVING { 1500.0 } else { 770.0 };
        let decision = -((1.0 + exp1(rng) * mean_age).min(2922.0) as i64);
        let scale = a.income / 170_000.0;
        let yearly = 0.1 + 0.25 * unit(rng);

        // Amounts and codes by contract type.
        let mut application;
        let mut credit;
        let mut down = None;
        let mut goods_price = None;
        let mut annuity_amt = None;
        let mut cnt_payment = None;
        let (
            purpose,
            goods_cat,
            portfolio,
            product,
            channel,
            seller_area,
            industry,
            yield_g,
            combo,
        );
        match kind {
            CONSUMER => {
                let price = snap(scale * 50_000.0 * (0.8 * normal(rng)).exp(), 4.5).max(4.5);
                let rate = if chance(rng, 0.5) {
                    0.0
                } else {
                    0.05 + 0.25 * unit(rng)
                };
                let dp = snap(price * rate, 4.5);
                application = price;
                credit = price - dp;
                down = Some(dp);
                goods_price = Some(price);
                let term = [6.0, 10.0, 12.0, 12.0, 18.0, 24.0][int_in(rng, 0, 5) as usize];
                cnt_payment = Some(term);
                annuity_amt = Some(snap(annuity(credit.max(1.0), term, yearly), 0.005));
                purpose = names(&v.purpose, "XAP");
                goods_cat = v.goods.pick(rng);
                portfolio = names(&v.portfolio, "POS");
                product = names(&v.product, "XNA");
                channel = v.channel.pick(rng);
                seller_area = int_in(rng, 0, 4000);
                industry = v.industry.pick(rng);
                yield_g = v.yield_group.pick(rng);
                let with = if v.yield_group.code(yield_g) == "low_action" {
                    "without"
                } else {
                    "with"
                };
                let what = match v.goods.code(goods_cat) {
                    "Mobile" => "mobile",
                    "Consumer Electronics" | "Computers" | "Audio/Video" | "Furniture" => {
                        "household"
                    }
                    "Construction Materials" | "Auto Accessories" | "Vehicles" => "industry",
                    _ => "other",
                };
                let code = match (what, with) {
                    ("mobile", "with") => "POS mobile with interest",
                    ("mobile", _) => "POS mobile without interest",
                    ("household", "with") => "POS household with interest",
                    ("household", _) => "POS household without interest",
                    ("industry", "with") => "POS industry with interest",
                    ("industry", _) => "POS industry without interest",
                    (_, "with") => "POS other with interest",
                    _ => "POS others without interest",
                };
                combo = Some(names(&v.combination, code));
            }
            CASH => {
                application = snap(scale * 250_000.0 * (0.7 * normal(rng)).exp(), 22_500.0)
                    .clamp(22_500.0, 4_050_000.0);
                credit = snap(application * (1.0 + 0.12 * unit(rng)), 4.5);
                goods_price = Some(application);
                let term = [12.0, 12.0, 18.0, 24.0, 24.0, 30.0, 36.0, 48.0, 60.0]
                    [int_in(rng, 0, 8) as usize];
                cnt_payment = Some(term);
                annuity_amt = Some(snap(annuity(credit, term, yearly), 0.005));
                let walk_in = chance(rng, 0.25);
                purpose = if walk_in {
                    v.purpose.pick(rng)
                } else {
                    names(&v.purpose, "XNA")
                };
                goods_cat = names(&v.goods, "XNA");
                portfolio = names(&v.portfolio, "Cash");
                product = names(&v.product, if walk_in { "walk-in" } else { "x-sell" });
                channel = names(
                    &v.channel,
                    [
                        "Credit and cash offices",
                        "Credit and cash offices",
                        "Contact center",
                        "AP+ (Cash loan)",
                    ][int_in(rng, 0, 3) as usize],
                );
                seller_area = -1;
                industry = names(&v.industry, "XNA");
                yield_g = v.yield_group.pick(rng);
                let band = match v.yield_group.code(yield_g) {
                    "high" => "high",
                    "middle" => "middle",
                    _ => "low",
                };
                let code = match (walk_in, band) {
                    (true, "high") => "Cash Street: high",
                    (true, "middle") => "Cash Street: middle",
                    (true, _) => "Cash Street: low",
                    (false, "high") => "Cash X-Sell: high",
                    (false, "middle") => "Cash X-Sell: middle",
                    (false, _) => "Cash X-Sell: low",
                };
                combo = Some(names(&v.combination, code));
            }
            REVOLVING => {
                credit = snap(scale * 110_000.0 * (0.6 * normal(rng)).exp(), 22_500.0)
                    .clamp(22_500.0, 1_350_000.0);
                application = if chance(rng, 0.6) { 0.0 } else { credit };
                annuity_amt = chance(rng, 0.8).then(|| snap(credit * 0.05, 2.25));
                cnt_payment = Some(0.0);
                purpose = names(&v.purpose, "XAP");
                goods_cat = names(&v.goods, "XNA");
                portfolio = names(&v.portfolio, "Cards");
                let street = chance(rng, 0.4);
                product = names(&v.product, if street { "walk-in" } else { "x-sell" });
                channel = names(
                    &v.channel,
                    if street {
                        "Stone"
                    } else {
                        "Credit and cash offices"
                    },
                );
                seller_area = if street { int_in(rng, 0, 4000) } else { -1 };
                industry = names(&v.industry, "XNA");
                yield_g = names(&v.yield_group, "XNA");
                combo = Some(names(
                    &v.combination,
                    if street { "Card Street" } else { "Card X-Sell" },
                ));
            }
            _ => {
                application = 0.0;
                credit = 0.0;
                purpose = names(&v.purpose, "XNA");
                goods_cat = names(&v.goods, "XNA");
                portfolio = names(&v.portfolio, "XNA");
                product = names(&v.product, "XNA");
                channel = names(&v.channel, "Credit and cash offices");
                seller_area = -1;
                industry = names(&v.industry, "XNA");
                yield_g = names(&v.yield_group, "XNA");
                combo = None;
            }
        }
        // Canceled applications never got priced (Kaggle: zero amounts, no schedule).
        let (mut portfolio, mut yield_g, mut combo) = (portfolio, yield_g, combo);
        if canceled && kind != CONSUMER {
            application = 0.0;
            credit = 0.0;
            annuity_amt = None;
            cnt_payment = None;
            goods_price = None;
            portfolio = names(&v.portfolio, "XNA");
            yield_g = names(&v.yield_group, "XNA");
            if kind == CASH {
                combo = Some(names(&v.combination, "Cash"));
            }
        }
        let rate_down = down.map(|d| {
            if application > 0.0 {
                d / application
            } else {
                0.0
            }
        });
        let (rate_primary, rate_privileged) = if chance(rng, 0.0036) {
            (Some(0.03 + 0.97 * unit(rng)), Some(0.37 + 0.6 * unit(rng)))
        } else {
            (None, None)
        };
        let reject = match status {
            2 => v.reject.pick(rng),
            3 => names(&v.reject, "CLIENT"),
            _ => names(&v.reject, "XAP"),
        };
        let payment_type = if canceled {
            names(&v.payment, "XNA")
        } else {
            v.payment.pick(rng)
        };
        let suite = (!chance(rng, 0.49)).then(|| v.suite.pick(rng));

        // The approved loan's schedule.
        let mut schedule = [None; 6];
        if approved {
            let term = cnt_payment.unwrap_or(0.0) as i64;
            let first_due = decision + int_in(rng, 10, 40);
            let runs = if term > 0 && chance(rng, 0.25) {
                int_in(rng, 1, term)
            } else {
                term
            };
            let loan = Loan {
                sk_id_prev,
                sk_id_curr: p.sk_id_curr,
                decision,
                first_due,
                term,
                instalments: runs,
                annuity: annuity_amt.unwrap_or(credit * 0.05),
                credit,
                discipline: p.discipline + 0.5 * normal(rng),
            };
            let days = |d: i64| if d <= 0 { d as f64 } else { SENTINEL };
            if kind == REVOLVING {
                let drawing = decision + int_in(rng, 0, 60);
                schedule = [
                    Some(if chance(rng, 0.5) {
                        days(drawing)
                    } else {
                        SENTINEL
                    }),
                    Some(days(first_due)),
                    Some(SENTINEL),
                    Some(SENTINEL),
                    Some(SENTINEL),
                    Some(0.0),
                ];
                credit_card::generate(rng, &loan, &v.card, out, signals);
                if chance(rng, 0.6) {
                    installments::generate_card(rng, &loan, out, signals);
                }
            } else {
                let last_due = loan.due_day(runs.max(1));
                let planned_last = loan.due_day(term.max(1));
                let termination = last_due + int_in(rng, 0, 10);
                let ended = last_due <= 0;
                schedule = [
                    Some(SENTINEL),
                    Some(days(first_due)),
                    Some(planned_last as f64),
                    Some(if ended { last_due as f64 } else { SENTINEL }),
                    Some(if ended { days(termination) } else { SENTINEL }),
                    Some(chance(rng, if kind == CASH { 0.6 } else { 0.15 }) as u8 as f64),
                ];
                installments::generate(rng, &loan, &v.installments, out, signals);
                pos_cash::generate(rng, &loan, &v.pos, out, signals);
            }
        }

        let mut r = out.row(P);
        r.int(sk_id_prev)
            .int(p.sk_id_curr)
            .text(v.contract.field(kind))
            .opt_float(annuity_amt, 3)
            .float(application, 3)
            .float(credit, 3)
            .opt_float(down, 3)
            .opt_float(goods_price, 3)
            .text(v.weekday.field(v.weekday.pick(rng)))
            .int((12.0 + 3.3 * normal(rng)).round().clamp(0.0, 23.0) as i64)
            .text(v.yes_no.field(!chance(rng, 0.005) as usize))
            .int(!chance(rng, 0.004) as i64)
            .opt_float(rate_down, 9)
            .opt_float(rate_primary, 9)
            .opt_float(rate_privileged, 9)
            .text(v.purpose.field(purpose))
            .text(v.status.field(status))
            .int(decision)
            .text(v.payment.field(payment_type))
            .text(v.reject.field(reject));
        match suite {
            Some(s) => r.text(v.suite.field(s)),
            None => r.null(),
        };
        r.text(v.client.field(v.client.pick(rng)))
            .text(v.goods.field(goods_cat))
            .text(v.portfolio.field(portfolio))
            .text(v.product.field(product))
            .text(v.channel.field(channel))
            .int(seller_area)
            .text(v.industry.field(industry))
            .opt_float(cnt_payment, 0)
            .text(v.yield_group.field(yield_g));
        match combo {
            Some(c) => r.text(v.combination.field(c)),
            None => r.null(),
        };
        for day in schedule {
            r.opt_float(day, 0);
        }
        r.end();
    }
}
