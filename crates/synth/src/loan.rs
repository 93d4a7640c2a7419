//! An approved previous loan as its child tables (instalments, card balances, POS/cash months)
//! see it. A leaf shared by `previous` and the child generators, so none imports another.

/// An approved loan's schedule, shared with its child tables.
pub struct Loan {
    pub sk_id_prev: i64,
    pub sk_id_curr: i64,
    pub decision: i64,
    pub first_due: i64,
    /// Instalments the schedule had when approved.
    pub term: i64,
    /// Instalments actually run (fewer when repaid early).
    pub instalments: i64,
    pub annuity: f64,
    pub credit: f64,
    /// Payment discipline on this loan (applicant's plus loan noise; higher is worse).
    pub discipline: f64,
}

impl Loan {
    pub fn due_day(&self, k: i64) -> i64 {
        self.first_due + 30 * (k - 1)
    }
}

/// Month index (relative to the application, negative in the past) of a day offset.
pub fn month_of(day: i64) -> i64 {
    (day as f64 / 30.44).floor() as i64
}
