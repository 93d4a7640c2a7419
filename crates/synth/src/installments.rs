//! `installments_payments.csv`: one row per payment of a due instalment of an approved loan.
//!
//! Each instalment falls due every 30 days from DAYS_FIRST_DUE; only those already due are listed.
//! Most are paid a few days early; the loan's payment discipline sets the chance of paying late
//! (sometimes more than 30 days) and of paying less than due. Some payments are split over two
//! rows (same instalment number, as in Kaggle). A late payment not yet made has no payment day or
//! amount.

use super::draw::{SynthRng, chance, exp1, int_in, sigmoid, snap, unit};
use super::loan::Loan;
use super::out::ChunkOut;
use super::risk::Signals;
use creditrisk_base::catalog::RawTable;
use creditrisk_base::error::Result;

const I: RawTable = RawTable::InstallmentsPayments;
/// Share of instalments paid in two parts.
const SPLIT: f64 = 0.22;

/// No categorical columns; kept for symmetry with the other tables' set-up (and to check the
/// catalog still has this table's columns the generator writes).
pub struct InstalmentVocab;

impl InstalmentVocab {
    pub fn new() -> Result<Self> {
        if I.columns().len() != 8 {
            return Err(creditrisk_base::error::Error::input(
                "synth: installments_payments in the catalog no longer has 8 columns",
            ));
        }
        Ok(InstalmentVocab)
    }
}

/// One payment row, updating the lateness and underpayment signals.
#[allow(clippy::too_many_arguments)]
fn payment(
    out: &mut ChunkOut,
    signals: &mut Signals,
    loan: &Loan,
    version: f64,
    number: i64,
    due: i64,
    entry: i64,
    instalment: f64,
    paid: f64,
) {
    let mut r = out.row(I);
    r.int(loan.sk_id_prev)
        .int(loan.sk_id_curr)
        .float(version, 0)
        .int(number)
        .float(due as f64, 0);
    if entry > -1 {
        // Not paid yet.
        r.null().float(instalment, 3).null().end();
        return;
    }
    r.float(entry as f64, 0)
        .float(instalment, 3)
        .float(paid, 3)
        .end();
    signals.inst_paid += 1;
    signals.inst_paid_amount += paid;
    if entry > due {
        signals.inst_late += 1;
        if entry - due > 30 {
            signals.inst_severe += 1;
        }
    }
}

/// Days between due day and payment (negative = early).
fn delay(rng: &mut SynthRng, late: f64) -> i64 {
    if chance(rng, late) {
        if chance(rng, 0.15) {
            31 + (exp1(rng) * 40.0) as i64
        } else {
            1 + (exp1(rng) * 7.0) as i64
        }
    } else {
        -((exp1(rng) * 9.0) as i64)
    }
}

/// Instalments of a cash or consumer loan.
pub fn generate(
    rng: &mut SynthRng,
    loan: &Loan,
    _v: &InstalmentVocab,
    out: &mut ChunkOut,
    signals: &mut Signals,
) {
    let late = sigmoid(-3.2 + 1.2 * loan.discipline);
    let under = sigmoid(-4.2 + 1.2 * loan.discipline);
    let change_at = if chance(rng, 0.1) {
        int_in(rng, 2, loan.instalments.max(2))
    } else {
        i64::MAX
    };
    for k in 1..=loan.instalments {
        let due = loan.due_day(k);
        if due > -1 {
            break;
        }
        let (version, mut amount) = if k >= change_at {
            (2.0, snap(loan.annuity * (0.8 + 0.4 * unit(rng)), 0.005))
        } else {
            (1.0, loan.annuity)
        };
        if k == loan.instalments && loan.instalments < loan.term {
            // Early repayment: the last instalment settles what is left.
            amount = snap(loan.annuity * (loan.term - k + 1) as f64, 0.005);
        }
        amount = snap(amount, 0.005);
        signals.inst_due += amount;
        let paid = if chance(rng, under) {
            snap(amount * (0.1 + 0.85 * unit(rng)), 0.005)
        } else {
            amount
        };
        let entry = due + delay(rng, late);
        if entry <= -1 && paid > 1.0 && chance(rng, SPLIT) {
            let first = snap(paid * (0.3 + 0.4 * unit(rng)), 0.005);
            payment(out, signals, loan, version, k, due, entry, amount, first);
            // The rest follows within days, still on time when the first part was.
            let later = if entry <= due {
                (entry + int_in(rng, 0, 20)).min(due)
            } else {
                entry + int_in(rng, 0, 20)
            }
            .min(-1);
            payment(
                out,
                signals,
                loan,
                version,
                k,
                due,
                later,
                amount,
                snap(paid - first, 0.005),
            );
        } else {
            payment(out, signals, loan, version, k, due, entry, amount, paid);
        }
    }
}

/// Card instalments (version 0): a minimum payment per month while the card is used.
pub fn generate_card(rng: &mut SynthRng, loan: &Loan, out: &mut ChunkOut, signals: &mut Signals) {
    let late = sigmoid(-2.9 + 1.2 * loan.discipline);
    let months = ((-loan.first_due) / 30).clamp(0, 95);
    let first = int_in(rng, 1, months.max(1));
    for k in 1..=months - first + 1 {
        let due = loan.first_due + 30 * (first + k - 2);
        if due > -1 {
            break;
        }
        let amount = snap(loan.credit * 0.05 * (0.2 + unit(rng)), 0.005);
        signals.inst_due += amount;
        let entry = due + delay(rng, late);
        payment(out, signals, loan, 0.0, k, due, entry, amount, amount);
    }
}
