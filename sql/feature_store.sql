-- The feature store: one row per applicant (application_train ∪ application_test), ordered by
-- SK_ID_CURR, joining the per-table feature sets on their own SK_ID_CURR.
--
-- Inputs: application_features, bureau_features, bureau_balance_features,
-- previous_application_features, installments_payments_features, credit_card_balance_features,
-- pos_cash_balance_features (the results of the other files in this folder).
-- An applicant without rows in a table gets 0 for its counts (BUREAU_N_*, PREV_TOTAL/APPROVED/
-- REFUSED/CANCELLED/UNUSED), NULL for every sum, mean, max, min, ratio and share (left as the
-- LEFT JOIN leaves them), and HAS_<TABLE> = 0. Bureau-balance features need no flag of their own:
-- they are NULL when the applicant's bureau lines have no monthly status.
-- Floating-point sums and means (SPEC leaves the order open): every per-table statement runs in
-- one partition over its table in file order, so an applicant's rows are added up one by one in
-- file order — the same bits on any core count, and in `serve` for a request carrying those rows.
-- Every store column (definition, NULL meaning, unit) is described in docs/features.md: update it
-- together with any file in this folder.
-- The six tables are first joined to the applicants' ids alone (`children`), then to the
-- application features once: each join copies the rows it has built so far, so joining them to
-- the ~90 application columns directly copied those columns six times (measured: 2 % of a cold
-- build's instructions other than hashing). Every applicant has one row in `children`, so the
-- last join is an INNER JOIN.
WITH children AS (
    SELECT
        k.SK_ID_CURR,
        CAST(CASE WHEN b.SK_ID_CURR IS NULL THEN 0 ELSE 1 END AS BIGINT) AS HAS_BUREAU,
        COALESCE(b.BUREAU_N_LOANS, 0) AS BUREAU_N_LOANS,
        COALESCE(b.BUREAU_N_ACTIVE, 0) AS BUREAU_N_ACTIVE,
        COALESCE(b.BUREAU_N_CLOSED, 0) AS BUREAU_N_CLOSED,
        b.BUREAU_LAST_CREDIT_DAYS,
        b.BUREAU_LAST_UPDATE_DAYS,
        b.BUREAU_TOTAL_DEBT,
        b.BUREAU_TOTAL_CREDIT,
        b.BUREAU_LIMIT_SUM,
        b.BUREAU_UTIL_MEAN,
        b.BUREAU_OVERDUE_SUM,
        b.BUREAU_MAX_OVERDUE,
        b.BUREAU_PROLONG_SUM,
        bb.BB_DELINQ_SHARE_MEAN,
        bb.BB_WORST_STATUS_MAX,
        bb.BB_MONTHS_SINCE_LAST_DELINQ_MIN,
        CAST(CASE WHEN p.SK_ID_CURR IS NULL THEN 0 ELSE 1 END AS BIGINT) AS HAS_PREV,
        COALESCE(p.PREV_TOTAL, 0) AS PREV_TOTAL,
        COALESCE(p.PREV_APPROVED, 0) AS PREV_APPROVED,
        COALESCE(p.PREV_REFUSED, 0) AS PREV_REFUSED,
        COALESCE(p.PREV_CANCELLED, 0) AS PREV_CANCELLED,
        COALESCE(p.PREV_UNUSED, 0) AS PREV_UNUSED,
        p.PREV_APPROVAL_RATE,
        p.PREV_REFUSED_RATE,
        p.PREV_APP_CREDIT_RATIO_MEAN,
        p.PREV_DOWNPAYMENT_RATE_MEAN,
        p.PREV_CNT_PAYMENT_MEAN,
        p.PREV_LAST_DECISION_DAYS,
        p.PREV_EARLIEST_DECISION_DAYS,
        CAST(CASE WHEN i.SK_ID_CURR IS NULL THEN 0 ELSE 1 END AS BIGINT) AS HAS_INSTAL,
        i.INSTAL_PAYMENT_RATIO_MEAN,
        i.INSTAL_PAYMENT_RATIO_STD,
        i.INSTAL_LATE_MEAN,
        i.INSTAL_LATE_MAX,
        i.INSTAL_LATE_SHARE,
        i.INSTAL_SEVERE_LATE_SHARE,
        CAST(CASE WHEN c.SK_ID_CURR IS NULL THEN 0 ELSE 1 END AS BIGINT) AS HAS_CC,
        c.CC_UTIL_MEAN,
        c.CC_UTIL_MAX,
        c.CC_MINPAY_COVERAGE_MEAN,
        c.CC_MINPAY_MET_SHARE,
        c.CC_DPD_ANY_SHARE,
        c.CC_DPD_MAX,
        c.CC_CASH_RATIO_MEAN,
        CAST(CASE WHEN pos.SK_ID_CURR IS NULL THEN 0 ELSE 1 END AS BIGINT) AS HAS_POS,
        pos.POS_DPD_ANY_SHARE,
        pos.POS_DPD_MAX,
        pos.POS_MONTHS_SINCE_LAST_ACTIVE
    FROM (SELECT SK_ID_CURR FROM application_features) AS k
    LEFT JOIN bureau_features AS b ON b.SK_ID_CURR = k.SK_ID_CURR
    LEFT JOIN bureau_balance_features AS bb ON bb.SK_ID_CURR = k.SK_ID_CURR
    LEFT JOIN previous_application_features AS p ON p.SK_ID_CURR = k.SK_ID_CURR
    LEFT JOIN installments_payments_features AS i ON i.SK_ID_CURR = k.SK_ID_CURR
    LEFT JOIN credit_card_balance_features AS c ON c.SK_ID_CURR = k.SK_ID_CURR
    LEFT JOIN pos_cash_balance_features AS pos ON pos.SK_ID_CURR = k.SK_ID_CURR
)
SELECT
    a.*,
    ch.HAS_BUREAU,
    ch.BUREAU_N_LOANS,
    ch.BUREAU_N_ACTIVE,
    ch.BUREAU_N_CLOSED,
    ch.BUREAU_LAST_CREDIT_DAYS,
    ch.BUREAU_LAST_UPDATE_DAYS,
    ch.BUREAU_TOTAL_DEBT,
    ch.BUREAU_TOTAL_CREDIT,
    ch.BUREAU_LIMIT_SUM,
    ch.BUREAU_UTIL_MEAN,
    ch.BUREAU_OVERDUE_SUM,
    ch.BUREAU_MAX_OVERDUE,
    ch.BUREAU_PROLONG_SUM,
    ch.BB_DELINQ_SHARE_MEAN,
    ch.BB_WORST_STATUS_MAX,
    ch.BB_MONTHS_SINCE_LAST_DELINQ_MIN,
    ch.HAS_PREV,
    ch.PREV_TOTAL,
    ch.PREV_APPROVED,
    ch.PREV_REFUSED,
    ch.PREV_CANCELLED,
    ch.PREV_UNUSED,
    ch.PREV_APPROVAL_RATE,
    ch.PREV_REFUSED_RATE,
    ch.PREV_APP_CREDIT_RATIO_MEAN,
    ch.PREV_DOWNPAYMENT_RATE_MEAN,
    ch.PREV_CNT_PAYMENT_MEAN,
    ch.PREV_LAST_DECISION_DAYS,
    ch.PREV_EARLIEST_DECISION_DAYS,
    ch.HAS_INSTAL,
    ch.INSTAL_PAYMENT_RATIO_MEAN,
    ch.INSTAL_PAYMENT_RATIO_STD,
    ch.INSTAL_LATE_MEAN,
    ch.INSTAL_LATE_MAX,
    ch.INSTAL_LATE_SHARE,
    ch.INSTAL_SEVERE_LATE_SHARE,
    ch.HAS_CC,
    ch.CC_UTIL_MEAN,
    ch.CC_UTIL_MAX,
    ch.CC_MINPAY_COVERAGE_MEAN,
    ch.CC_MINPAY_MET_SHARE,
    ch.CC_DPD_ANY_SHARE,
    ch.CC_DPD_MAX,
    ch.CC_CASH_RATIO_MEAN,
    ch.HAS_POS,
    ch.POS_DPD_ANY_SHARE,
    ch.POS_DPD_MAX,
    ch.POS_MONTHS_SINCE_LAST_ACTIVE
FROM application_features AS a
JOIN children AS ch ON ch.SK_ID_CURR = a.SK_ID_CURR
ORDER BY a.SK_ID_CURR
