//! `POS_CASH_balance.csv`: monthly snapshots of approved cash and consumer loans.
//!
//! One row per month from the decision month until the loan completes or the month before the
//! application, with the remaining instalments. Arrears (SK_DPD) start at a rate set by the loan's
//! payment discipline, grow by a month at a time and are cured with a fixed chance; SK_DPD_DEF
//! counts only the arrears that are not tolerated as small debts.

use super::draw::{SynthRng, chance, int_in, sigmoid};
use super::loan::{Loan, month_of};
use super::out::ChunkOut;
use super::risk::Signals;
use super::vocab::Vocab;
use creditrisk_base::catalog::RawTable;
use creditrisk_base::error::Result;

const PC: RawTable = RawTable::PosCashBalance;

pub struct PosVocab {
    status: Vocab,
    active: usize,
    completed: usize,
    signed: usize,
}

impl PosVocab {
    pub fn new() -> Result<Self> {
        let status = Vocab::new(
            PC,
            "NAME_CONTRACT_STATUS",
            &[
                ("Active", 1.0),
                ("Completed", 1.0),
                ("Signed", 1.0),
                ("Demand", 1.0),
                ("Returned to the store", 1.0),
            ],
        )?;
        Ok(PosVocab {
            active: status.index("Active"),
            completed: status.index("Completed"),
            signed: status.index("Signed"),
            status,
        })
    }
}

pub fn generate(
    rng: &mut SynthRng,
    loan: &Loan,
    v: &PosVocab,
    out: &mut ChunkOut,
    signals: &mut Signals,
) {
    let first = month_of(loan.first_due).max(-96);
    let last_due = loan.due_day(loan.instalments.max(1));
    let completed_month = month_of(last_due) + 1;
    let last = completed_month.min(-1);
    let enter = sigmoid(-5.0 + 1.3 * loan.discipline);
    let known_term = !chance(rng, 0.0026);
    let demand = v.status.index("Demand");
    let returned = v.status.index("Returned to the store");
    let mut dpd: i64 = 0;
    let mut due_so_far = 0i64;
    for month in first..=last {
        // Instalments due by the end of this month.
        while due_so_far < loan.instalments && month_of(loan.due_day(due_so_far + 1)) <= month {
            due_so_far += 1;
        }
        let future = if month == completed_month {
            0
        } else {
            loan.term - due_so_far
        };
        let status = if month == completed_month {
            v.completed
        } else if month == first && chance(rng, 0.08) {
            v.signed
        } else if dpd > 90 && chance(rng, 0.05) {
            demand
        } else if chance(rng, 0.0005) {
            returned
        } else {
            v.active
        };
        if status != v.signed && status != v.completed {
            dpd = if dpd == 0 {
                if chance(rng, enter) {
                    int_in(rng, 1, 30)
                } else {
                    0
                }
            } else if chance(rng, 0.45) {
                0
            } else {
                dpd + 30
            };
        } else {
            dpd = 0;
        }
        let dpd_def = if dpd > 0 && chance(rng, 0.35) { dpd } else { 0 };
        let mut r = out.row(PC);
        r.int(loan.sk_id_prev).int(loan.sk_id_curr).int(month);
        if known_term {
            r.float(loan.term as f64, 0).float(future.max(0) as f64, 0);
        } else {
            r.null().null();
        }
        r.text(v.status.field(status)).int(dpd).int(dpd_def).end();
        signals.pos_months += 1;
        if dpd > 0 {
            signals.pos_dpd_months += 1;
            signals.pos_dpd_max = signals.pos_dpd_max.max(dpd as u32);
        }
    }
}
