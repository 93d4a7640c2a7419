-- Bureau features: one row per applicant with at least one row in `bureau`.
-- Output: registered as `bureau_features`; feature_store.sql turns "no row" into counts of 0,
-- NULL for everything else and HAS_BUREAU = 0.
--
-- Each bureau row is one credit line, so row level is loan level here.
-- Choices where the feature definitions leave room (see docs/features.md):
-- * BUREAU_N_ACTIVE / BUREAU_N_CLOSED count CREDIT_ACTIVE = 'Active' / 'Closed' exactly
--   ('Sold' and 'Bad debt' count in neither).
-- * BUREAU_LAST_CREDIT_DAYS = MAX(DAYS_CREDIT), BUREAU_LAST_UPDATE_DAYS = MAX(DAYS_CREDIT_UPDATE)
--   (the most recent, i.e. closest to 0; raw sign kept).
-- * BUREAU_UTIL_MEAN = AVG(AMT_CREDIT_SUM_DEBT / NULLIF(AMT_CREDIT_SUM, 0)): a line with zero or
--   NULL credit has a NULL ratio and does not count in the mean (NULL when no line has one).
--   Negative debts (credit balances) are kept as reported.
-- * BUREAU_MAX_OVERDUE = MAX(AMT_CREDIT_MAX_OVERDUE); BUREAU_OVERDUE_SUM = SUM(AMT_CREDIT_SUM_OVERDUE);
--   BUREAU_PROLONG_SUM = SUM(CNT_CREDIT_PROLONG). Sums over all-NULL values are NULL (SQL).
SELECT
    SK_ID_CURR,
    CAST(COUNT(*) AS BIGINT) AS BUREAU_N_LOANS,
    CAST(SUM(CASE WHEN CREDIT_ACTIVE = 'Active' THEN 1 ELSE 0 END) AS BIGINT) AS BUREAU_N_ACTIVE,
    CAST(SUM(CASE WHEN CREDIT_ACTIVE = 'Closed' THEN 1 ELSE 0 END) AS BIGINT) AS BUREAU_N_CLOSED,
    MAX(DAYS_CREDIT) AS BUREAU_LAST_CREDIT_DAYS,
    MAX(DAYS_CREDIT_UPDATE) AS BUREAU_LAST_UPDATE_DAYS,
    SUM(AMT_CREDIT_SUM_DEBT) AS BUREAU_TOTAL_DEBT,
    SUM(AMT_CREDIT_SUM) AS BUREAU_TOTAL_CREDIT,
    SUM(AMT_CREDIT_SUM_LIMIT) AS BUREAU_LIMIT_SUM,
    AVG(AMT_CREDIT_SUM_DEBT / NULLIF(AMT_CREDIT_SUM, 0)) AS BUREAU_UTIL_MEAN,
    SUM(AMT_CREDIT_SUM_OVERDUE) AS BUREAU_OVERDUE_SUM,
    MAX(AMT_CREDIT_MAX_OVERDUE) AS BUREAU_MAX_OVERDUE,
    SUM(CNT_CREDIT_PROLONG) AS BUREAU_PROLONG_SUM
FROM bureau
WHERE SK_ID_CURR IS NOT NULL
GROUP BY SK_ID_CURR
