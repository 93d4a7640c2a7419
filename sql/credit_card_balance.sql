-- Credit-card features: one row per applicant with at least one card month.
-- Output: registered as `credit_card_balance_features`.
--
-- Row level (one card month):
-- * utilisation      = AMT_BALANCE / NULLIF(AMT_CREDIT_LIMIT_ACTUAL, 0)
-- * min-pay coverage = AMT_PAYMENT_TOTAL_CURRENT / NULLIF(AMT_INST_MIN_REGULARITY, 0)
-- * min-pay met      = 1 when AMT_PAYMENT_TOTAL_CURRENT >= AMT_INST_MIN_REGULARITY, else 0; NULL
--                      (not counted) when the minimum due is 0 or NULL, or the payment NULL
-- * any DPD          = 1 when SK_DPD > 0, else 0; NULL when SK_DPD is NULL
-- * cash ratio       = AMT_DRAWINGS_ATM_CURRENT / NULLIF(AMT_DRAWINGS_CURRENT, 0)
-- The two indicators are CAST(comparison AS DOUBLE): a comparison is NULL when an operand is
-- (and NULLIF makes a minimum due of 0 NULL), and a cast costs the engine less than a CASE.
-- Loan level, grouped on (SK_ID_CURR, SK_ID_PREV): means of the above, max utilisation, max SK_DPD.
-- Applicant level (the convention of docs/features.md: means of loan values, not of months):
-- CC_UTIL_MEAN, CC_MINPAY_COVERAGE_MEAN, CC_MINPAY_MET_SHARE, CC_DPD_ANY_SHARE, CC_CASH_RATIO_MEAN
-- are means of the loan values; CC_UTIL_MAX and CC_DPD_MAX are maxima of the loan maxima
-- (CC_DPD_MAX Int64).
WITH month_level AS (
    SELECT
        SK_ID_CURR,
        SK_ID_PREV,
        AMT_BALANCE / NULLIF(CAST(AMT_CREDIT_LIMIT_ACTUAL AS DOUBLE), 0) AS util,
        AMT_PAYMENT_TOTAL_CURRENT / NULLIF(AMT_INST_MIN_REGULARITY, 0) AS minpay_coverage,
        CAST(AMT_PAYMENT_TOTAL_CURRENT >= NULLIF(AMT_INST_MIN_REGULARITY, 0) AS DOUBLE) AS minpay_met,
        CAST(SK_DPD > 0 AS DOUBLE) AS dpd_any,
        SK_DPD,
        AMT_DRAWINGS_ATM_CURRENT / NULLIF(AMT_DRAWINGS_CURRENT, 0) AS cash_ratio
    FROM credit_card_balance
    WHERE SK_ID_CURR IS NOT NULL
),
loan AS (
    SELECT
        SK_ID_CURR,
        SK_ID_PREV,
        AVG(util) AS util_mean,
        MAX(util) AS util_max,
        AVG(minpay_coverage) AS minpay_coverage_mean,
        AVG(minpay_met) AS minpay_met_share,
        AVG(dpd_any) AS dpd_any_share,
        MAX(SK_DPD) AS dpd_max,
        AVG(cash_ratio) AS cash_ratio_mean
    FROM month_level
    GROUP BY SK_ID_CURR, SK_ID_PREV
)
SELECT
    SK_ID_CURR,
    AVG(util_mean) AS CC_UTIL_MEAN,
    MAX(util_max) AS CC_UTIL_MAX,
    AVG(minpay_coverage_mean) AS CC_MINPAY_COVERAGE_MEAN,
    AVG(minpay_met_share) AS CC_MINPAY_MET_SHARE,
    AVG(dpd_any_share) AS CC_DPD_ANY_SHARE,
    CAST(MAX(dpd_max) AS BIGINT) AS CC_DPD_MAX,
    AVG(cash_ratio_mean) AS CC_CASH_RATIO_MEAN
FROM loan
GROUP BY SK_ID_CURR
