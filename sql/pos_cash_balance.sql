-- POS/cash-loan features: one row per applicant with at least one POS month.
-- Output: registered as `pos_cash_balance_features`.
--
-- Choices where the feature definitions leave room (see docs/features.md):
-- * A month is "active" when NAME_CONTRACT_STATUS = 'Active' (exactly).
-- * Loan level, grouped on (SK_ID_CURR, SK_ID_PREV): share of months with SK_DPD > 0 (months with
--   SK_DPD NULL not counted: CAST(SK_DPD > 0 AS DOUBLE) is NULL there), max SK_DPD,
--   months since the last active month = -MAX(MONTHS_BALANCE of active months) (0 when the
--   application month is active; NULL for a loan never active).
-- * Applicant: POS_DPD_ANY_SHARE = mean of loan shares; POS_DPD_MAX = max of loan maxima;
--   POS_MONTHS_SINCE_LAST_ACTIVE = MIN over loans (the most recent active month over all loans),
--   NULL when no loan ever had an active month. Both Int64.
WITH loan AS (
    SELECT
        SK_ID_CURR,
        SK_ID_PREV,
        AVG(CAST(SK_DPD > 0 AS DOUBLE)) AS dpd_any_share,
        MAX(SK_DPD) AS dpd_max,
        -MAX(CASE WHEN NAME_CONTRACT_STATUS = 'Active' THEN MONTHS_BALANCE END) AS months_since_active
    FROM pos_cash_balance
    WHERE SK_ID_CURR IS NOT NULL
    GROUP BY SK_ID_CURR, SK_ID_PREV
)
SELECT
    SK_ID_CURR,
    AVG(dpd_any_share) AS POS_DPD_ANY_SHARE,
    CAST(MAX(dpd_max) AS BIGINT) AS POS_DPD_MAX,
    CAST(MIN(months_since_active) AS BIGINT) AS POS_MONTHS_SINCE_LAST_ACTIVE
FROM loan
GROUP BY SK_ID_CURR
