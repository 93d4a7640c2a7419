-- Bureau-balance features: one row per applicant whose bureau lines have monthly statuses.
-- Output: registered as `bureau_balance_features`.
--
-- Stage 1 groups on SK_ID_BUREAU (one bureau line); stage 2 reaches the applicant through
-- `bureau` (bureau_balance has no SK_ID_CURR): an INNER JOIN on SK_ID_BUREAU, so months of lines
-- unknown to `bureau` (orphans, reported by the contracts) are left out.
-- Choices where the feature definitions leave room (see docs/features.md):
-- * Delinquent month: STATUS in '1'..'5'. 'C' (closed), 'X' (unknown) and '0' (no DPD) are not.
-- * Line delinquent share = delinquent months / months with a status.
-- * Line worst status = the highest digit 1-5, with C/X/0 counted as 0 (Int64).
-- * Line months since last delinquent month = -MAX(MONTHS_BALANCE of delinquent months), i.e.
--   months between the application (MONTHS_BALANCE 0) and the last delinquent month: 0 when the
--   application month itself is delinquent; NULL when the line never was delinquent (Int64).
-- * Applicant: BB_DELINQ_SHARE_MEAN = mean of line shares, BB_WORST_STATUS_MAX = max of line worst
--   statuses, BB_MONTHS_SINCE_LAST_DELINQ_MIN = min of line values (the most recent delinquency).
-- The month's status digit `dpd` is one CASE over literals (which the engine runs as a lookup
-- table); the three line values are then read from it, not from three string comparisons.
WITH month AS (
    SELECT
        SK_ID_BUREAU,
        MONTHS_BALANCE,
        STATUS IS NULL AS no_status,
        CASE STATUS WHEN '1' THEN 1 WHEN '2' THEN 2 WHEN '3' THEN 3 WHEN '4' THEN 4
                    WHEN '5' THEN 5 ELSE 0 END AS dpd
    FROM bureau_balance
), line AS (
    SELECT
        SK_ID_BUREAU,
        AVG(CASE WHEN no_status THEN NULL WHEN dpd > 0 THEN 1.0 ELSE 0.0 END) AS delinq_share,
        MAX(dpd) AS worst_status,
        -MAX(CASE WHEN dpd > 0 THEN MONTHS_BALANCE END) AS months_since_delinq
    FROM month
    GROUP BY SK_ID_BUREAU
)
SELECT
    b.SK_ID_CURR,
    AVG(line.delinq_share) AS BB_DELINQ_SHARE_MEAN,
    CAST(MAX(line.worst_status) AS BIGINT) AS BB_WORST_STATUS_MAX,
    CAST(MIN(line.months_since_delinq) AS BIGINT) AS BB_MONTHS_SINCE_LAST_DELINQ_MIN
FROM line
JOIN bureau AS b ON b.SK_ID_BUREAU = line.SK_ID_BUREAU
WHERE b.SK_ID_CURR IS NOT NULL
GROUP BY b.SK_ID_CURR
