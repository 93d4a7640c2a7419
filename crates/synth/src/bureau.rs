//! `bureau.csv` (credits at other institutions) and `bureau_balance.csv` (their monthly status).
//!
//! About half the bureau lines carry a monthly history, from the month the credit opened to the
//! application month. Delinquency follows a small Markov chain (0 → 1 → … → 5, with cures; 5 is
//! nearly absorbing, i.e. written off) whose entry rate rises with the applicant's payment
//! discipline; closed months are `C`, unreported months `X`. The applicant's worst status,
//! delinquent share and any current overdue feed the PD.

use super::applicants::Applicant;
use super::draw::{SynthRng, chance, exp1, int_in, normal, sigmoid, snap, unit};
use super::out::ChunkOut;
use super::plan::Profile;
use super::risk::Signals;
use super::vocab::Vocab;
use creditrisk_base::catalog::RawTable;
use creditrisk_base::error::Result;

const B: RawTable = RawTable::Bureau;
/// Share of bureau lines with a monthly history (Kaggle: ~48 %).
const HAS_BALANCE: f64 = 0.368;
/// Oldest month in bureau_balance.
const OLDEST_MONTH: i64 = -96;

pub struct BureauVocab {
    active: Vocab,
    currency: Vocab,
    credit_type: Vocab,
    status: Vocab,
    closed: usize,
    active_code: usize,
    sold: usize,
    bad_debt: usize,
    card: usize,
    status_c: usize,
    status_x: usize,
}

impl BureauVocab {
    pub fn new() -> Result<Self> {
        let active = Vocab::new(
            B,
            "CREDIT_ACTIVE",
            &[
                ("Closed", 1.0),
                ("Active", 1.0),
                ("Sold", 0.0),
                ("Bad debt", 0.0),
            ],
        )?;
        let credit_type = Vocab::new(
            B,
            "CREDIT_TYPE",
            &[
                ("Consumer credit", 72.9),
                ("Credit card", 23.4),
                ("Car loan", 1.6),
                ("Mortgage", 1.07),
                ("Microloan", 0.72),
                ("Loan for business development", 0.115),
                ("Another type of loan", 0.059),
                ("Unknown type of loan", 0.032),
                ("Loan for working capital replenishment", 0.027),
                ("Cash loan (non-earmarked)", 0.0033),
                ("Real estate loan", 0.0016),
                ("Loan for the purchase of equipment", 0.0011),
                ("Loan for purchase of shares (margin lending)", 0.0002),
                ("Interbank credit", 0.00006),
                ("Mobile operator loan", 0.00006),
            ],
        )?;
        let status = Vocab::new(
            RawTable::BureauBalance,
            "STATUS",
            &[
                ("0", 1.0),
                ("1", 1.0),
                ("2", 1.0),
                ("3", 1.0),
                ("4", 1.0),
                ("5", 1.0),
                ("C", 1.0),
                ("X", 1.0),
            ],
        )?;
        Ok(BureauVocab {
            closed: active.index("Closed"),
            active_code: active.index("Active"),
            sold: active.index("Sold"),
            bad_debt: active.index("Bad debt"),
            card: credit_type.index("Credit card"),
            status_c: status.index("C"),
            status_x: status.index("X"),
            currency: Vocab::new(
                B,
                "CREDIT_CURRENCY",
                &[
                    ("currency 1", 99.918),
                    ("currency 2", 0.0737),
                    ("currency 3", 0.0101),
                    ("currency 4", 0.0006),
                ],
            )?,
            active,
            credit_type,
            status,
        })
    }
}

/// Reusable per-worker buffer for one line's monthly statuses (no per-line allocation).
#[derive(Default)]
pub struct Scratch {
    statuses: Vec<u8>,
}

/// Writes the applicant's bureau lines and their monthly balances.
pub fn generate(
    rng: &mut SynthRng,
    p: &Profile,
    a: &Applicant,
    v: &BureauVocab,
    out: &mut ChunkOut,
    signals: &mut Signals,
    scratch: &mut Scratch,
) {
    signals.bureau_lines = p.bureau_lines;
    for k in 0..p.bureau_lines {
        let id = p.first_bureau_id + k as i64;
        let line_discipline = p.discipline + 0.5 * normal(rng);
        let credit_type = v.credit_type.pick(rng);
        let card = credit_type == v.card;
        let days_credit = -((2922.0 * unit(rng).powf(1.3)) as i64);
        let term_days = match v.credit_type.code(credit_type) {
            "Credit card" => 365 * int_in(rng, 1, 6),
            "Mortgage" | "Real estate loan" => int_in(rng, 2000, 9000),
            "Car loan" => int_in(rng, 700, 2600),
            "Microloan" => int_in(rng, 15, 180),
            _ => (90.0 + exp1(rng) * 520.0) as i64,
        };
        let planned_end = days_credit + term_days;
        let mut status = if planned_end > 0 {
            if chance(rng, 0.8) {
                v.active_code
            } else {
                v.closed
            }
        } else if chance(rng, 0.1) {
            v.active_code
        } else {
            v.closed
        };
        if chance(rng, 0.004) {
            status = v.sold;
        } else if chance(rng, 0.00002 * (1.0 + line_discipline.max(0.0) * 10.0)) {
            status = v.bad_debt;
        }
        let open = status != v.closed;
        let end_fact = (!open).then(|| {
            let latest = planned_end.min(0);
            days_credit + ((latest - days_credit) as f64 * (0.5 + 0.5 * unit(rng))) as i64
        });

        // Monthly history (chronological), which also decides the current overdue.
        let open_month = ((days_credit as f64) / 30.44).floor() as i64;
        let open_month = open_month.max(OLDEST_MONTH);
        let close_month = end_fact.map_or(1, |d| ((d as f64) / 30.44).floor() as i64);
        let mut current_status = 0u8;
        let mut worst = 0u8;

        if chance(rng, HAS_BALANCE) {
            let months = (-open_month + 1) as usize;
            scratch.statuses.clear();
            let unknown_prefix = if chance(rng, 0.08) {
                months
            } else if chance(rng, 0.3) {
                (months as f64 * unit(rng)) as usize
            } else {
                0
            };
            let enter = sigmoid(-4.8 + 1.3 * line_discipline);
            let mut s = 0u8;
            for m in 0..months {
                let month = open_month + m as i64;
                let code = if m < unknown_prefix {
                    v.status_x as u8
                } else if month > close_month {
                    v.status_c as u8
                } else {
                    s = match s {
                        0 => chance(rng, enter) as u8,
                        5 => {
                            if chance(rng, 0.92) {
                                5
                            } else {
                                0
                            }
                        }
                        _ => {
                            let u = unit(rng);
                            if u < 0.55 {
                                0
                            } else if u < 0.8 {
                                s + 1
                            } else {
                                s
                            }
                        }
                    };
                    worst = worst.max(s);
                    if s > 0 {
                        signals.bb_delinquent_months += 1;
                    }
                    s
                };
                scratch.statuses.push(code);
            }
            current_status = if open { s } else { 0 };
            signals.bb_months += months as u32;
            // Kaggle lists a line's months from the latest backwards.
            for (m, code) in scratch.statuses.iter().enumerate().rev() {
                out.row(RawTable::BureauBalance)
                    .int(id)
                    .int(open_month + m as i64)
                    .text(v.status.field(*code as usize))
                    .end();
            }
        } else if open && chance(rng, sigmoid(-6.3 + 1.3 * line_discipline)) {
            current_status = 1 + chance(rng, 0.3) as u8;
            worst = current_status;
        }
        signals.bb_worst = signals.bb_worst.max(worst);

        // Amounts.
        let scale = (a.income / 150_000.0).powf(0.6);
        let credit_sum = if card {
            snap(scale * 90_000.0 * (0.7 * normal(rng)).exp(), 22_500.0).max(0.0)
        } else {
            let factor = match v.credit_type.code(credit_type) {
                "Mortgage" | "Real estate loan" => 12.0,
                "Car loan" => 4.0,
                "Microloan" => 0.15,
                _ => 1.0,
            };
            snap(
                scale * factor * 130_000.0 * (0.9 * normal(rng)).exp(),
                0.005,
            )
        };
        let elapsed = (-days_credit) as f64 / term_days.max(1) as f64;
        let debt = if !open {
            0.0
        } else if card {
            snap(
                credit_sum * sigmoid(-0.8 + 1.0 * line_discipline + 0.5 * normal(rng)),
                0.005,
            )
        } else {
            snap(
                credit_sum * (1.0 - elapsed).clamp(0.0, 1.0) * (0.8 + 0.2 * unit(rng)),
                0.005,
            )
        };
        let overdue_days = if current_status > 0 {
            30 * (current_status as i64 - 1) + int_in(rng, 1, 30)
        } else {
            0
        };
        let overdue_amount = if overdue_days > 0 {
            snap(credit_sum * 0.05 * current_status as f64, 0.005)
        } else {
            0.0
        };
        if open {
            signals.bureau_active += 1;
            signals.bureau_active_debt += debt;
            signals.bureau_active_credit += credit_sum;
        }
        if overdue_days > 0 {
            signals.bureau_overdue_now = true;
        }
        let max_overdue = chance(rng, 0.345).then(|| {
            if worst > 0 {
                snap(credit_sum * 0.04 * worst as f64 * (0.5 + unit(rng)), 0.005)
            } else if chance(rng, 0.88) {
                0.0
            } else {
                snap(2000.0 * exp1(rng), 0.005)
            }
        });
        let update = if open {
            -int_in(rng, 0, 40)
        } else {
            let fact = end_fact.unwrap_or(0);
            (fact + int_in(rng, 0, 30)).min(0)
        }
        .max(days_credit);
        let enddate = (!chance(rng, if card { 0.15 } else { 0.035 })).then_some(planned_end as f64);
        let debt_cell = (!chance(rng, if open { 0.05 } else { 0.3 })).then_some(debt);
        let limit_cell = (!chance(rng, 0.345)).then(|| {
            if card {
                (credit_sum - debt).max(0.0)
            } else {
                0.0
            }
        });
        let annuity = chance(rng, 0.285)
            .then(|| snap(credit_sum / (term_days as f64 / 30.0).max(1.0), 0.005));

        out.row(B)
            .int(p.sk_id_curr)
            .int(id)
            .text(v.active.field(status))
            .text(v.currency.field(v.currency.pick(rng)))
            .int(days_credit)
            .int(overdue_days)
            .opt_float(enddate, 0)
            .opt_float(end_fact.map(|d| d as f64), 0)
            .opt_float(max_overdue, 3)
            .int(chance(rng, 0.005) as i64)
            .float(credit_sum, 3)
            .opt_float(debt_cell, 3)
            .opt_float(limit_cell, 3)
            .float(overdue_amount, 3)
            .text(v.credit_type.field(credit_type))
            .int(update)
            .opt_float(annuity, 3)
            .end();
    }
}
