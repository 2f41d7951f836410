-- A recommendation is written far more often than a feed is read, and a
-- citizen has few: the feed and the matcher's history find them through
-- the UNIQUE (network_id, rule_id, source) index, whose first column is the
-- citizen. One index fewer to update per recommendation
-- (docs/performance.md).
DROP INDEX recommendations_by_citizen;
