//! The true probability of default.
//!
//! The PD is a function of what the applicant's rows actually say: application fields plus
//! aggregates of the history the generator has just written (bureau delinquency, instalment
//! lateness and underpayment, card utilisation, POS arrears). It is therefore the Bayes-optimal
//! score for the raw data, and the truth file's AUC is the best any model can reach. The latent
//! risk only makes those fields correlated, as in real data. Effects are non-linear (saturating,
//! convex, thresholds and one interaction) so trees beat a linear score on the same features.

/// Everything the PD looks at, accumulated while the rows are generated.
#[derive(Clone, Debug, Default)]
pub struct Signals {
    // application
    pub ext_sources: [Option<f64>; 3],
    pub age_years: f64,
    /// `None` at the DAYS_EMPLOYED sentinel.
    pub employed_years: Option<f64>,
    pub income: f64,
    pub credit: f64,
    pub annuity: f64,
    pub goods: f64,
    pub male: bool,
    pub revolving: bool,
    pub own_car: bool,
    /// Additive effects of categorical fields (education, income type, occupation, region).
    pub category_effect: f64,
    pub def_30_circle: f64,
    pub city_mismatch: bool,
    pub bureau_enquiries_year: f64,
    // bureau
    pub bureau_lines: u32,
    pub bureau_active: u32,
    pub bureau_overdue_now: bool,
    pub bureau_active_debt: f64,
    pub bureau_active_credit: f64,
    pub bb_months: u32,
    pub bb_delinquent_months: u32,
    pub bb_worst: u8,
    // previous applications
    pub prev_apps: u32,
    pub prev_refused: u32,
    // instalments
    pub inst_paid: u32,
    pub inst_late: u32,
    pub inst_severe: u32,
    pub inst_due: f64,
    pub inst_paid_amount: f64,
    // credit card
    pub cc_months: u32,
    pub cc_util_sum: f64,
    pub cc_util_max: f64,
    pub cc_dpd_months: u32,
    // POS
    pub pos_months: u32,
    pub pos_dpd_months: u32,
    pub pos_dpd_max: u32,
}

/// Intercept calibrated so the population default rate is about 8 % (Kaggle: 8.07 %).
const INTERCEPT: f64 = -4.46;

impl Signals {
    /// Mean of the available external scores.
    pub fn ext_mean(&self) -> Option<f64> {
        let (sum, n) = self
            .ext_sources
            .iter()
            .flatten()
            .fold((0.0, 0), |(s, n), v| (s + v, n + 1));
        (n > 0).then(|| sum / n as f64)
    }

    /// Log-odds from the application alone (also used to report how much the history adds).
    pub fn application_logit(&self) -> f64 {
        let mut x = 0.0;
        match self.ext_mean() {
            Some(s) => {
                // Steeper at the bottom of the score range than at the top.
                x += -3.0 * (s - 0.5) + 2.2 * (0.3 - s).max(0.0);
            }
            None => x += 0.4,
        }
        if self.ext_sources[2].is_none() {
            x += 0.12;
        }
        x += 0.9 * (1.0 - (self.age_years - 21.0) / 25.0).max(0.0);
        match self.employed_years {
            Some(e) => x += 0.55 * (-e / 1.5).exp(),
            None => x -= 0.15,
        }
        if self.goods > 0.0 {
            x += 1.2 * (self.credit / self.goods - 1.1).max(0.0);
        }
        if self.income > 0.0 {
            x += 1.6 * (self.annuity / self.income - 0.25).max(0.0);
            x += 0.15 * ((self.credit / self.income).ln() - 1.5).max(0.0);
        }
        if self.credit > 0.0 && self.annuity > 0.0 {
            let rate = self.annuity / self.credit;
            x += (60.0 * (rate - 0.05) * (rate - 0.05)).min(0.5);
        }
        if self.male {
            x += 0.35;
        }
        if self.revolving {
            x -= 0.35;
        }
        if self.own_car {
            x -= 0.15;
        }
        if self.city_mismatch {
            x += 0.2;
        }
        x += 0.25 * self.def_30_circle.min(3.0);
        x += 0.03 * self.bureau_enquiries_year.min(8.0);
        x + self.category_effect
    }

    /// Log-odds contributed by the credit history.
    pub fn history_logit(&self) -> f64 {
        let mut x = 0.0;
        // Bureau: worst status ever reported, share of delinquent months, overdue today.
        if self.bureau_lines == 0 {
            x += 0.1;
        }
        const WORST: [f64; 6] = [0.0, 0.45, 0.8, 1.0, 1.15, 1.35];
        x += WORST[self.bb_worst.min(5) as usize];
        if self.bb_months > 0 {
            x += 2.0 * self.bb_delinquent_months as f64 / self.bb_months as f64;
        }
        if self.bureau_overdue_now {
            x += 0.6;
        }
        x += (0.07 * (self.bureau_active as f64 - 2.0)).clamp(0.0, 0.6);
        if self.bureau_active_credit > 0.0
            && self.bureau_active_debt / self.bureau_active_credit > 0.8
        {
            x += 0.25;
        }
        // Previous applications: refusals.
        if self.prev_apps == 0 {
            x += 0.1;
        } else {
            x += 0.9 * self.prev_refused as f64 / self.prev_apps as f64;
        }
        // Instalments: lateness saturates, severe lateness and underpayment add linearly.
        let late_share = self.late_share();
        if self.inst_paid > 0 {
            x += 2.5 * (late_share - 0.08).max(0.0) + 1.5 * (late_share - 0.25).max(0.0);
            x += 4.0 * self.inst_severe as f64 / self.inst_paid as f64;
        }
        if self.inst_due > 0.0 {
            x += 3.0 * (0.97 - self.inst_paid_amount / self.inst_due).max(0.0);
        }
        // Credit card: convex in utilisation, plus maxed-out cards and arrears.
        if self.cc_months > 0 {
            let util = self.cc_util_sum / self.cc_months as f64;
            let over = ((util - 0.4) / 0.6).max(0.0);
            x += 1.6 * over * over;
            if self.cc_util_max > 0.98 {
                x += 0.3;
            }
            x += 2.0 * self.cc_dpd_months as f64 / self.cc_months as f64;
        }
        // POS: any arrears, and long arrears.
        if self.pos_months > 0 {
            x += 2.5 * self.pos_dpd_months as f64 / self.pos_months as f64;
        }
        if self.pos_dpd_max > 30 {
            x += 0.4;
        }
        // Interaction: late payers with weak external scores are much riskier.
        if late_share > 0.2 && self.ext_mean().is_some_and(|s| s < 0.35) {
            x += 0.5;
        }
        x
    }

    /// Share of paid instalments paid after their due day.
    pub fn late_share(&self) -> f64 {
        if self.inst_paid == 0 {
            0.0
        } else {
            self.inst_late as f64 / self.inst_paid as f64
        }
    }

    /// The true probability of default.
    pub fn pd(&self) -> f64 {
        super::draw::sigmoid(INTERCEPT + self.application_logit() + self.history_logit())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Signals {
        Signals {
            ext_sources: [Some(0.5), Some(0.5), Some(0.5)],
            age_years: 40.0,
            employed_years: Some(5.0),
            income: 150_000.0,
            credit: 500_000.0,
            annuity: 25_000.0,
            goods: 450_000.0,
            prev_apps: 3,
            bureau_lines: 4,
            ..Signals::default()
        }
    }

    #[test]
    fn history_raises_pd() {
        let clean = base();
        let mut late = base();
        late.inst_paid = 40;
        late.inst_late = 12;
        assert!(late.pd() > clean.pd() * 1.5);
        let mut delinquent = base();
        delinquent.bb_worst = 3;
        delinquent.bb_months = 24;
        delinquent.bb_delinquent_months = 4;
        assert!(delinquent.pd() > clean.pd() * 1.5);
        let mut maxed = base();
        maxed.cc_months = 10;
        maxed.cc_util_sum = 9.8;
        maxed.cc_util_max = 1.0;
        assert!(maxed.pd() > clean.pd() * 1.5);
    }

    #[test]
    fn low_scores_raise_pd_non_linearly() {
        let mut low = base();
        low.ext_sources = [Some(0.1), None, Some(0.1)];
        let mut mid = base();
        mid.ext_sources = [Some(0.3), None, Some(0.3)];
        let gap_low = low.pd().ln() - mid.pd().ln();
        let mut high = base();
        high.ext_sources = [Some(0.7), None, Some(0.7)];
        let gap_high = base().pd().ln() - high.pd().ln();
        assert!(gap_low > gap_high);
    }
}
