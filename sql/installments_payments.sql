-- Instalment features: one row per applicant with at least one instalment row.
-- Output: registered as `installments_payments_features`.
--
-- Row level (one instalment):
-- * payment ratio = AMT_PAYMENT / NULLIF(AMT_INSTALMENT, 0)
-- * days late     = DAYS_ENTRY_PAYMENT - DAYS_INSTALMENT when positive, else 0 ("days paid after
--                   due": early or on-time payments count 0 days, not negative days)
-- * late          = 1 when DAYS_ENTRY_PAYMENT > DAYS_INSTALMENT, else 0
-- * severe late   = 1 when DAYS_ENTRY_PAYMENT - DAYS_INSTALMENT > 30, else 0
--   All three late values are NULL when DAYS_ENTRY_PAYMENT is NULL (no payment recorded), so such
--   rows do not count in the means, maxima or shares below. The shares are written as
--   CAST(comparison AS DOUBLE): a comparison is NULL when an operand is, and a cast costs the
--   engine less than a CASE with a NULL branch (same values, bit for bit).
-- Loan level, grouped on (SK_ID_CURR, SK_ID_PREV): mean and sample standard deviation
-- (STDDEV_SAMP: NULL for a single instalment) of the ratio, mean and max of days late, share late,
-- share severely late.
-- Applicant level: INSTAL_PAYMENT_RATIO_MEAN, INSTAL_PAYMENT_RATIO_STD, INSTAL_LATE_MEAN,
-- INSTAL_LATE_SHARE and INSTAL_SEVERE_LATE_SHARE are means of the loan values; INSTAL_LATE_MAX is
-- the max of the loan maxima.
WITH row_level AS (
    SELECT
        SK_ID_CURR,
        SK_ID_PREV,
        AMT_PAYMENT / NULLIF(AMT_INSTALMENT, 0) AS payment_ratio,
        CASE WHEN DAYS_ENTRY_PAYMENT - DAYS_INSTALMENT > 0 THEN DAYS_ENTRY_PAYMENT - DAYS_INSTALMENT
             WHEN DAYS_ENTRY_PAYMENT - DAYS_INSTALMENT IS NOT NULL THEN 0.0 END AS days_late,
        CAST(DAYS_ENTRY_PAYMENT > DAYS_INSTALMENT AS DOUBLE) AS is_late,
        CAST(DAYS_ENTRY_PAYMENT - DAYS_INSTALMENT > 30 AS DOUBLE) AS is_severe_late
    FROM installments_payments
    WHERE SK_ID_CURR IS NOT NULL
),
loan AS (
    SELECT
        SK_ID_CURR,
        SK_ID_PREV,
        AVG(payment_ratio) AS ratio_mean,
        STDDEV_SAMP(payment_ratio) AS ratio_std,
        AVG(days_late) AS late_mean,
        MAX(days_late) AS late_max,
        AVG(is_late) AS late_share,
        AVG(is_severe_late) AS severe_late_share
    FROM row_level
    GROUP BY SK_ID_CURR, SK_ID_PREV
)
SELECT
    SK_ID_CURR,
    AVG(ratio_mean) AS INSTAL_PAYMENT_RATIO_MEAN,
    AVG(ratio_std) AS INSTAL_PAYMENT_RATIO_STD,
    AVG(late_mean) AS INSTAL_LATE_MEAN,
    MAX(late_max) AS INSTAL_LATE_MAX,
    AVG(late_share) AS INSTAL_LATE_SHARE,
    AVG(severe_late_share) AS INSTAL_SEVERE_LATE_SHARE
FROM loan
GROUP BY SK_ID_CURR
