-- quantdb schema, version 1.
-- Every table is STRICT (DuckDB's sqlite scanner reads the declared types), dates are ISO-8601
-- text checked with date(x, '+0 days') (which normalizes 02-30 away, so an impossible day fails), and the database refuses nonsense.
-- Never edit this file once it has landed: add 0002_*.sql instead.

-- One row per import (legacy migration, price import): what rollback undoes.
CREATE TABLE import_batches (
    id              INTEGER PRIMARY KEY,
    kind            TEXT    NOT NULL CHECK (kind IN ('legacy', 'prices', 'manual')),
    source          TEXT    NOT NULL,
    started_at      TEXT    NOT NULL CHECK (datetime(started_at) IS NOT NULL),
    finished_at     TEXT             CHECK (finished_at IS NULL OR datetime(finished_at) IS NOT NULL),
    status          TEXT    NOT NULL DEFAULT 'committed' CHECK (status IN ('committed', 'rolled_back')),
    backup_path     TEXT,
    quantdb_version TEXT    NOT NULL,
    report_json     TEXT             CHECK (report_json IS NULL OR json_valid(report_json))
) STRICT;

CREATE TABLE strategies (
    id            INTEGER PRIMARY KEY,
    name          TEXT    NOT NULL UNIQUE CHECK (name <> '' AND name = lower(trim(name))),
    description   TEXT,
    min_hold_days INTEGER CHECK (min_hold_days IS NULL OR min_hold_days >= 0),
    max_hold_days INTEGER CHECK (max_hold_days IS NULL OR max_hold_days >= 1),
    extra         TEXT    CHECK (extra IS NULL OR json_valid(extra)),   -- undocumented fields, kept
    batch_id      INTEGER REFERENCES import_batches (id),
    CHECK (min_hold_days IS NULL OR max_hold_days IS NULL OR max_hold_days >= min_hold_days)
) STRICT;

CREATE TABLE tickers (
    id             INTEGER PRIMARY KEY,
    symbol         TEXT    NOT NULL UNIQUE CHECK (symbol <> '' AND symbol = upper(trim(symbol))),
    name           TEXT,
    sector         TEXT,
    market_cap     REAL    CHECK (market_cap IS NULL OR market_cap > 0),
    market_cap_raw TEXT,                                                   -- as written ("1.2T")
    extra          TEXT    CHECK (extra IS NULL OR json_valid(extra)),
    batch_id       INTEGER REFERENCES import_batches (id)
) STRICT;

-- Daily bars. A NULL bar is a day the source listed without values: counted, never invented.
CREATE TABLE price_history (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,     -- never reused: max(id) is a watermark
    ticker_id INTEGER NOT NULL REFERENCES tickers (id),
    date      TEXT    NOT NULL CHECK (date IS date(date, '+0 days')),
    open      REAL    CHECK (open IS NULL OR open > 0),
    high      REAL    CHECK (high IS NULL OR high > 0),
    low       REAL    CHECK (low IS NULL OR low > 0),
    close     REAL    CHECK (close IS NULL OR close > 0),
    volume    INTEGER CHECK (volume IS NULL OR volume >= 0),
    adj_close REAL    CHECK (adj_close IS NULL OR adj_close > 0),
    batch_id  INTEGER REFERENCES import_batches (id),
    CHECK (high IS NULL OR low IS NULL OR high >= low),
    UNIQUE (ticker_id, date)          -- also the index for per-ticker date-range scans
) STRICT;
CREATE INDEX price_history_date ON price_history (date);

-- Change counters for the columnar mirror. An insert moves max(price_history.id) (AUTOINCREMENT
-- never reuses an id); an update or delete bumps the counter. Inserts carry no trigger, so bulk
-- loads stay as fast as a bare executemany.
CREATE TABLE table_versions (
    name    TEXT    PRIMARY KEY,
    version INTEGER NOT NULL DEFAULT 0
) STRICT;
INSERT INTO table_versions (name) VALUES ('price_history');
CREATE TRIGGER price_history_updated AFTER UPDATE ON price_history
BEGIN
    UPDATE table_versions SET version = version + 1 WHERE name = 'price_history';
END;
CREATE TRIGGER price_history_deleted AFTER DELETE ON price_history
BEGIN
    UPDATE table_versions SET version = version + 1 WHERE name = 'price_history';
END;
CREATE TRIGGER tickers_renamed AFTER UPDATE OF symbol ON tickers
BEGIN
    UPDATE table_versions SET version = version + 1 WHERE name = 'price_history';
END;

CREATE TABLE predictions (
    id             INTEGER PRIMARY KEY,
    legacy_id      TEXT    UNIQUE,                                  -- the old system's id, as text
    date           TEXT    NOT NULL CHECK (date IS date(date, '+0 days')),
    timestamp      TEXT,                                            -- as written
    timestamp_utc  TEXT    CHECK (timestamp_utc IS NULL OR datetime(timestamp_utc) IS NOT NULL),
    timestamp_kind TEXT    CHECK (timestamp_kind IS NULL OR timestamp_kind IN ('utc', 'offset', 'naive')),
    strategy_id    INTEGER NOT NULL REFERENCES strategies (id),
    ticker_id      INTEGER NOT NULL REFERENCES tickers (id),
    position       TEXT    NOT NULL CHECK (position IN ('LONG', 'SHORT')),
    confidence     REAL    CHECK (confidence IS NULL OR (confidence >= 0 AND confidence <= 1)),
    target         REAL    CHECK (target IS NULL OR target > 0),
    stop_loss      REAL    CHECK (stop_loss IS NULL OR stop_loss > 0),
    timeframe      TEXT,                                            -- as written: 1d, 2w, 1m, 10
    timeframe_days INTEGER CHECK (timeframe_days IS NULL OR timeframe_days >= 1),  -- trading days
    entry_price    REAL    CHECK (entry_price IS NULL OR entry_price > 0),
    status         TEXT    NOT NULL DEFAULT 'open'
                           CHECK (status IN ('open', 'hit_target', 'stopped', 'expired')),
    exit_date      TEXT    CHECK (exit_date IS NULL OR exit_date IS date(exit_date, '+0 days')),
    exit_price     REAL    CHECK (exit_price IS NULL OR exit_price > 0),
    extra          TEXT    CHECK (extra IS NULL OR json_valid(extra)),  -- undocumented fields, kept
    batch_id       INTEGER REFERENCES import_batches (id),
    CHECK (exit_date IS NULL OR exit_date >= date)
) STRICT;
CREATE INDEX predictions_strategy_date ON predictions (strategy_id, date);
CREATE INDEX predictions_open ON predictions (status) WHERE status = 'open';

CREATE TABLE trades (
    id                   INTEGER PRIMARY KEY,
    legacy_id            TEXT    UNIQUE,
    prediction_id        INTEGER REFERENCES predictions (id),
    prediction_legacy_id TEXT,            -- kept when the prediction is missing (link NULL)
    ticker_id            INTEGER NOT NULL REFERENCES tickers (id),
    side                 TEXT    NOT NULL CHECK (side IN ('long', 'short')),
    entry_date           TEXT    NOT NULL CHECK (entry_date IS date(entry_date, '+0 days')),
    entry_price          REAL    NOT NULL CHECK (entry_price > 0),
    signal_price         REAL    CHECK (signal_price IS NULL OR signal_price > 0),  -- for slippage
    shares               REAL    NOT NULL CHECK (shares > 0),
    exit_date            TEXT    CHECK (exit_date IS NULL OR exit_date IS date(exit_date, '+0 days')),
    exit_price           REAL    CHECK (exit_price IS NULL OR exit_price > 0),
    status               TEXT    NOT NULL CHECK (status IN ('OPEN', 'CLOSED', 'CANCELLED')),
    pnl                  REAL,            -- as stored by the old system (or computed when new)
    pnl_computed         REAL,            -- recomputed from prices, shares and fees
    pnl_mismatch         INTEGER NOT NULL DEFAULT 0 CHECK (pnl_mismatch IN (0, 1)),
    fees                 REAL    NOT NULL DEFAULT 0 CHECK (fees >= 0),
    exit_reason          TEXT,
    extra                TEXT    CHECK (extra IS NULL OR json_valid(extra)),
    batch_id             INTEGER REFERENCES import_batches (id),
    CHECK (exit_date IS NULL OR exit_date >= entry_date),
    CHECK (status <> 'CLOSED' OR (exit_date IS NOT NULL AND exit_price IS NOT NULL))
) STRICT;
CREATE INDEX trades_prediction ON trades (prediction_id);
CREATE INDEX trades_ticker ON trades (ticker_id, entry_date);

-- Daily snapshot of each strategy's live performance (written by `track update`).
CREATE TABLE performance_metrics (
    id             INTEGER PRIMARY KEY,
    strategy_id    INTEGER NOT NULL REFERENCES strategies (id),
    date           TEXT    NOT NULL CHECK (date IS date(date, '+0 days')),
    accuracy       REAL    CHECK (accuracy IS NULL OR (accuracy >= 0 AND accuracy <= 1)),
    win_rate       REAL    CHECK (win_rate IS NULL OR (win_rate >= 0 AND win_rate <= 1)),
    profit_factor  REAL,
    sharpe         REAL,
    sortino        REAL,
    max_drawdown   REAL    CHECK (max_drawdown IS NULL OR (max_drawdown >= -1 AND max_drawdown <= 0)),
    total_return   REAL,
    realized_pnl   REAL,
    unrealized_pnl REAL,
    n_open         INTEGER CHECK (n_open IS NULL OR n_open >= 0),
    n_closed       INTEGER CHECK (n_closed IS NULL OR n_closed >= 0),
    extra          TEXT    CHECK (extra IS NULL OR json_valid(extra)),
    UNIQUE (strategy_id, date)
) STRICT;

CREATE TABLE volume_leaders (
    id        INTEGER PRIMARY KEY,
    date      TEXT    NOT NULL CHECK (date IS date(date, '+0 days')),
    timeframe TEXT    NOT NULL CHECK (timeframe IN ('daily', 'weekly', 'monthly')),
    rank      INTEGER NOT NULL CHECK (rank >= 1),
    ticker_id INTEGER NOT NULL REFERENCES tickers (id),
    volume    INTEGER CHECK (volume IS NULL OR volume >= 0),
    price     REAL    CHECK (price IS NULL OR price > 0),
    extra     TEXT    CHECK (extra IS NULL OR json_valid(extra)),
    batch_id  INTEGER REFERENCES import_batches (id),
    UNIQUE (timeframe, date, ticker_id)
) STRICT;

-- Sweeps: one row a run; results live in Parquet, the best combinations in backtest_results.
CREATE TABLE sweep_runs (
    id              INTEGER PRIMARY KEY,
    strategy        TEXT    NOT NULL,
    grid_json       TEXT    NOT NULL CHECK (json_valid(grid_json)),
    settings_json   TEXT    NOT NULL CHECK (json_valid(settings_json)),
    combos          INTEGER NOT NULL CHECK (combos >= 0),
    results_path    TEXT,
    status          TEXT    NOT NULL CHECK (status IN ('running', 'done', 'failed')),
    created_at      TEXT    NOT NULL CHECK (datetime(created_at) IS NOT NULL),
    finished_at     TEXT,
    quantdb_version TEXT    NOT NULL
) STRICT;

CREATE TABLE backtest_results (
    id               INTEGER PRIMARY KEY,
    strategy_id      INTEGER NOT NULL REFERENCES strategies (id),
    start_date       TEXT    NOT NULL CHECK (start_date IS date(start_date, '+0 days')),
    end_date         TEXT    NOT NULL CHECK (end_date IS date(end_date, '+0 days')),
    total_return     REAL,
    sharpe           REAL,
    max_dd           REAL    CHECK (max_dd IS NULL OR (max_dd >= -1 AND max_dd <= 0)),
    trades           INTEGER NOT NULL CHECK (trades >= 0),
    final_equity     REAL,
    params_json      TEXT    NOT NULL CHECK (json_valid(params_json)),
    settings_json    TEXT    NOT NULL CHECK (json_valid(settings_json)),
    stats_json       TEXT    CHECK (stats_json IS NULL OR json_valid(stats_json)),
    data_fingerprint TEXT    NOT NULL,
    quantdb_version  TEXT    NOT NULL,
    sweep_run_id     INTEGER REFERENCES sweep_runs (id),
    created_at       TEXT    NOT NULL CHECK (datetime(created_at) IS NOT NULL),
    CHECK (end_date >= start_date)
) STRICT;

CREATE TABLE backtest_trades (
    id           INTEGER PRIMARY KEY,
    backtest_id  INTEGER NOT NULL REFERENCES backtest_results (id) ON DELETE CASCADE,
    ticker       TEXT    NOT NULL,
    entry_date   TEXT    NOT NULL CHECK (entry_date IS date(entry_date, '+0 days')),
    exit_date    TEXT    NOT NULL CHECK (exit_date IS date(exit_date, '+0 days')),
    entry_price  REAL    NOT NULL CHECK (entry_price > 0),
    exit_price   REAL    NOT NULL CHECK (exit_price > 0),
    size         REAL    NOT NULL,
    pnl          REAL    NOT NULL,
    return_pct   REAL    NOT NULL,
    fees         REAL    NOT NULL CHECK (fees >= 0),
    exit_reason  TEXT    NOT NULL,
    bars_held    INTEGER NOT NULL CHECK (bars_held >= 0),
    CHECK (exit_date >= entry_date)
) STRICT;
CREATE INDEX backtest_trades_backtest ON backtest_trades (backtest_id);

CREATE TABLE backtest_equity (
    backtest_id INTEGER NOT NULL REFERENCES backtest_results (id) ON DELETE CASCADE,
    date        TEXT    NOT NULL CHECK (date IS date(date, '+0 days')),
    equity      REAL    NOT NULL,
    exposure    REAL    NOT NULL,
    PRIMARY KEY (backtest_id, date)
) STRICT, WITHOUT ROWID;

-- Zero-loss migration: the raw original of every record read, and what became of it.
CREATE TABLE raw_records (
    id           INTEGER PRIMARY KEY,
    batch_id     INTEGER NOT NULL REFERENCES import_batches (id),
    file         TEXT    NOT NULL,                  -- relative to the imported folder
    position     INTEGER NOT NULL CHECK (position >= 0),   -- 0-based index (or CSV data row)
    record_key   TEXT,                              -- e.g. the leader date for leader files
    raw          TEXT    NOT NULL,                  -- the record as written (JSON text or CSV line)
    outcome      TEXT    NOT NULL CHECK (outcome IN ('imported', 'duplicate', 'already_present', 'quarantined')),
    target_table TEXT,
    target_id    INTEGER,
    flags        TEXT    CHECK (flags IS NULL OR json_valid(flags)),
    UNIQUE (batch_id, file, position)
) STRICT;
CREATE INDEX raw_records_target ON raw_records (target_table, target_id);

CREATE TABLE quarantine (
    id            INTEGER PRIMARY KEY,
    batch_id      INTEGER NOT NULL REFERENCES import_batches (id),
    raw_record_id INTEGER NOT NULL UNIQUE REFERENCES raw_records (id),
    file          TEXT    NOT NULL,
    position      INTEGER NOT NULL,
    field         TEXT    NOT NULL,
    rule          TEXT    NOT NULL,
    reason        TEXT    NOT NULL,
    resolved_at   TEXT    CHECK (resolved_at IS NULL OR datetime(resolved_at) IS NOT NULL)
) STRICT;

-- What a batch changed in rows it did not create, so rollback restores them exactly.
CREATE TABLE batch_changes (
    id          INTEGER PRIMARY KEY,
    batch_id    INTEGER NOT NULL REFERENCES import_batches (id),
    table_name  TEXT    NOT NULL,
    row_id      INTEGER NOT NULL,
    before_json TEXT    NOT NULL CHECK (json_valid(before_json))
) STRICT;
