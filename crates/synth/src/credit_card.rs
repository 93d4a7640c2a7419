//! `credit_card_balance.csv`: monthly statements of approved revolving loans.
//!
//! Each card has a target utilisation set by the loan's payment discipline (a third of cards sit
//! unused); the monthly balance drifts around it. The minimum due is 5 % of the balance; riskier
//! holders miss it more often, which starts days past due (SK_DPD) until a payment cures it.
//! Drawing details are missing together for about a fifth of the months and the minimum-payment
//! fields for about 8 %, as in Kaggle.

use super::draw::{SynthRng, chance, int_in, normal, sigmoid, snap, unit};
use super::loan::{Loan, month_of};
use super::out::ChunkOut;
use super::risk::Signals;
use super::vocab::Vocab;
use creditrisk_base::catalog::RawTable;
use creditrisk_base::error::Result;

const CC: RawTable = RawTable::CreditCardBalance;

pub struct CardVocab {
    status: Vocab,
    active: usize,
    completed: usize,
    signed: usize,
}

impl CardVocab {
    pub fn new() -> Result<Self> {
        let status = Vocab::new(
            CC,
            "NAME_CONTRACT_STATUS",
            &[
                ("Active", 1.0),
                ("Completed", 1.0),
                ("Signed", 1.0),
                ("Demand", 1.0),
            ],
        )?;
        Ok(CardVocab {
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
    v: &CardVocab,
    out: &mut ChunkOut,
    signals: &mut Signals,
) {
    let first = month_of(loan.decision).max(-96);
    let closes = chance(rng, 0.15);
    let last = if closes { int_in(rng, first, -1) } else { -1 };
    let limit = loan.credit.max(22_500.0);
    let target = if chance(rng, 0.33) {
        0.0
    } else {
        sigmoid(-0.9 + 1.2 * loan.discipline + 0.6 * normal(rng))
    };
    let miss = sigmoid(-3.6 + 1.2 * loan.discipline);
    let demand = v.status.index("Demand");
    let mut util: f64 = 0.0;
    let mut dpd: i64 = 0;
    let mut mature = 0.0;
    let mut balance = 0.0;
    for month in first..=last {
        let previous = balance;
        util = (0.6 * util + 0.4 * target + 0.05 * normal(rng)).clamp(0.0, 1.05);
        if target == 0.0 {
            util = 0.0;
        }
        balance = snap(limit * util, 0.005);
        let drawn = snap((balance - previous * 0.95).max(0.0), 0.005);
        let atm = snap(drawn * unit(rng).powi(2), 4.5).min(drawn);
        let pos = snap(drawn - atm, 0.005);
        let minimum = snap(previous * 0.05, 0.005);
        let missed = minimum > 0.0 && chance(rng, miss);
        let paid = if missed {
            0.0
        } else if previous > 0.0 {
            snap(minimum.max(previous * (0.05 + 0.5 * unit(rng))), 0.005)
        } else {
            0.0
        };
        if minimum > 0.0 {
            mature += 1.0;
        }
        dpd = if missed {
            if dpd == 0 {
                int_in(rng, 1, 30)
            } else {
                dpd + 30
            }
        } else {
            0
        };
        let status = if month == last && closes {
            v.completed
        } else if month == first && chance(rng, 0.05) {
            v.signed
        } else if dpd > 90 && chance(rng, 0.05) {
            demand
        } else {
            v.active
        };
        let details = !chance(rng, 0.195);
        let regular = !chance(rng, 0.079);
        let mut r = out.row(CC);
        r.int(loan.sk_id_prev)
            .int(loan.sk_id_curr)
            .int(month)
            .float(balance, 3)
            .int(limit as i64);
        if details {
            r.float(atm, 3);
        } else {
            r.null();
        }
        r.float(drawn, 3);
        if details {
            r.float(0.0, 3).float(pos, 3);
        } else {
            r.null().null();
        }
        if regular {
            r.float(minimum, 3);
        } else {
            r.null();
        }
        if paid > 0.0 {
            r.float(paid, 3);
        } else {
            r.null();
        }
        let principal = snap(balance * 0.97, 0.005);
        let atm_count = (atm / 9000.0).ceil();
        let pos_count = (pos / 3000.0).ceil();
        r.float(paid, 3)
            .float(principal, 3)
            .float(balance, 3)
            .float(balance, 3);
        if details {
            r.float(atm_count, 0);
        } else {
            r.null();
        }
        r.int((atm_count + pos_count) as i64);
        if details {
            r.float(0.0, 0).float(pos_count, 0);
        } else {
            r.null().null();
        }
        if regular {
            r.float(mature, 0);
        } else {
            r.null();
        }
        let dpd_def = if dpd > 0 && chance(rng, 0.3) { dpd } else { 0 };
        r.text(v.status.field(status)).int(dpd).int(dpd_def).end();
        signals.cc_months += 1;
        signals.cc_util_sum += util;
        signals.cc_util_max = signals.cc_util_max.max(util);
        if dpd > 0 {
            signals.cc_dpd_months += 1;
        }
    }
}
