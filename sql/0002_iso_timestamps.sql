-- One timestamp format for stored results: ISO-8601 UTC with microseconds and a Z,
-- e.g. 2026-12-06T12:00:00.123456Z, which sorts as text (quantdb.services.research.results
-- writes it). quantdb 0.1 wrote backtests' created_at as 2026-12-06T12:00:00+00:00 and sweeps'
-- as 2026-12-06 12:00:00, so "latest backtests" ordered the two kinds apart. Rows in another
-- format are rewritten in place (SQLite's date functions read either, offsets to UTC).

UPDATE backtest_results
SET created_at = strftime('%Y-%m-%dT%H:%M:', created_at) || printf('%09.6f', strftime('%f', created_at)) || 'Z'
WHERE created_at NOT GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z';

UPDATE sweep_runs
SET created_at = strftime('%Y-%m-%dT%H:%M:', created_at) || printf('%09.6f', strftime('%f', created_at)) || 'Z'
WHERE created_at NOT GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z';

UPDATE sweep_runs
SET finished_at = strftime('%Y-%m-%dT%H:%M:', finished_at) || printf('%09.6f', strftime('%f', finished_at)) || 'Z'
WHERE finished_at IS NOT NULL AND datetime(finished_at) IS NOT NULL
  AND finished_at NOT GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z';

-- "Latest backtests" and "latest sweeps": newest first by created_at, then id.
CREATE INDEX backtest_results_created ON backtest_results (created_at, id);
CREATE INDEX sweep_runs_created ON sweep_runs (created_at, id);
