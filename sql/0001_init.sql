-- quantdb schema, version 1.
-- Every table is STRICT (DuckDB's sqlite scanner reads the declared types), dates are ISO-8601
-- text checked with date(x, '+0 days') (which normalizes 02-30 away, so an impossible day fails), and the database refuses nonsense.
-- Never edit this file once it has landed: add 0002_*.sql instead.

-- One row per import (legacy migration, price import): what rollback undoes.
CREATE TABLE import_batches (
    id              INTEGER PRIMARY KEY,  -- batch number (rollback --batch N)
    kind            TEXT    NOT NULL CHECK (kind IN ('legacy', 'prices', 'manual')),  -- what was imported: legacy folder, price files, manual entry
    source          TEXT    NOT NULL,  -- the folder or files imported
    started_at      TEXT    NOT NULL CHECK (datetime(started_at) IS NOT NULL),  -- UTC time the batch began
    finished_at     TEXT             CHECK (finished_at IS NULL OR datetime(finished_at) IS NOT NULL),  -- UTC time the batch committed
    status          TEXT    NOT NULL DEFAULT 'committed' CHECK (status IN ('committed', 'rolled_back')),  -- committed, or rolled_back by `quantdb rollback`
    backup_path     TEXT,  -- the backup taken before the batch (online backup API)
    quantdb_version TEXT    NOT NULL,  -- the quantdb that wrote the batch
    report_json     TEXT             CHECK (report_json IS NULL OR json_valid(report_json))  -- the migration report (counts per file) and file-level fields
) STRICT;

CREATE TABLE strategies (
    id            INTEGER PRIMARY KEY,  -- surrogate key
    name          TEXT    NOT NULL UNIQUE CHECK (name <> '' AND name = lower(trim(name))),  -- trimmed, lower-case name (legacy `Earnings_Drift ` -> earnings_drift)
    description   TEXT,  -- what the strategy does
    min_hold_days INTEGER CHECK (min_hold_days IS NULL OR min_hold_days >= 0),  -- shortest intended holding period, trading days
    max_hold_days INTEGER CHECK (max_hold_days IS NULL OR max_hold_days >= 1),  -- longest intended holding period, trading days (backtest max hold)
    extra         TEXT    CHECK (extra IS NULL OR json_valid(extra)),   -- undocumented fields, kept
    batch_id      INTEGER REFERENCES import_batches (id),  -- the import batch that created the row
    CHECK (min_hold_days IS NULL OR max_hold_days IS NULL OR max_hold_days >= min_hold_days)
) STRICT;

CREATE TABLE tickers (
    id             INTEGER PRIMARY KEY,  -- surrogate key
    symbol         TEXT    NOT NULL UNIQUE CHECK (symbol <> '' AND symbol = upper(trim(symbol))),  -- upper-case symbol with a class dot (BRK.B; files write BRK-B)
    name           TEXT,  -- company name
    sector         TEXT,  -- GICS sector
    market_cap     REAL    CHECK (market_cap IS NULL OR market_cap > 0),  -- market capitalisation in currency units
    market_cap_raw TEXT,                                                   -- as written ("1.2T")
    extra          TEXT    CHECK (extra IS NULL OR json_valid(extra)),  -- undocumented fields of tickers_info, kept as JSON
    batch_id       INTEGER REFERENCES import_batches (id)  -- the import batch that created the row
) STRICT;

-- Daily bars. A NULL bar is a day the source listed without values: counted, never invented.
CREATE TABLE price_history (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,     -- never reused: max(id) is a watermark
    ticker_id INTEGER NOT NULL REFERENCES tickers (id),  -- the ticker
    date      TEXT    NOT NULL CHECK (date IS date(date, '+0 days')),  -- trading day (ISO date)
    open      REAL    CHECK (open IS NULL OR open > 0),  -- raw open
    high      REAL    CHECK (high IS NULL OR high > 0),  -- raw high
    low       REAL    CHECK (low IS NULL OR low > 0),  -- raw low
    close     REAL    CHECK (close IS NULL OR close > 0),  -- raw close (jumps at a split)
    volume    INTEGER CHECK (volume IS NULL OR volume >= 0),  -- shares traded
    adj_close REAL    CHECK (adj_close IS NULL OR adj_close > 0),  -- split/dividend-adjusted close (continuous across a split)
    batch_id  INTEGER REFERENCES import_batches (id),  -- the import batch that wrote the bar
    CHECK (high IS NULL OR low IS NULL OR high >= low),
    UNIQUE (ticker_id, date)          -- also the index for per-ticker date-range scans
) STRICT;
CREATE INDEX price_history_date ON price_history (date);

-- Change counters for the columnar mirror. An insert moves max(price_history.id) (AUTOINCREMENT
-- never reuses an id); an update or delete bumps the counter. Inserts carry no trigger, so bulk
-- loads stay as fast as a bare executemany.
CREATE TABLE table_versions (
    name    TEXT    PRIMARY KEY,  -- the mirrored table
    version INTEGER NOT NULL DEFAULT 0  -- bumped by triggers on every update or delete
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
    id             INTEGER PRIMARY KEY,  -- surrogate key
    legacy_id      TEXT    UNIQUE,                                  -- the old system's id, as text
    date           TEXT    NOT NULL CHECK (date IS date(date, '+0 days')),  -- the day the prediction was made (ISO)
    timestamp      TEXT,                                            -- as written
    timestamp_utc  TEXT    CHECK (timestamp_utc IS NULL OR datetime(timestamp_utc) IS NOT NULL),  -- the timestamp in UTC (a naive one read as US/Eastern)
    timestamp_kind TEXT    CHECK (timestamp_kind IS NULL OR timestamp_kind IN ('utc', 'offset', 'naive')),  -- how it was written: utc (Z), offset, or naive
    strategy_id    INTEGER NOT NULL REFERENCES strategies (id),  -- the strategy that made it
    ticker_id      INTEGER NOT NULL REFERENCES tickers (id),  -- the ticker predicted
    position       TEXT    NOT NULL CHECK (position IN ('LONG', 'SHORT')),  -- LONG or SHORT (legacy BUY/SELL mapped)
    confidence     REAL    CHECK (confidence IS NULL OR (confidence >= 0 AND confidence <= 1)),  -- a fraction in [0, 1] (legacy percentages divided by 100)
    target         REAL    CHECK (target IS NULL OR target > 0),  -- target price
    stop_loss      REAL    CHECK (stop_loss IS NULL OR stop_loss > 0),  -- stop price
    timeframe      TEXT,                                            -- as written: 1d, 2w, 1m, 10
    timeframe_days INTEGER CHECK (timeframe_days IS NULL OR timeframe_days >= 1),  -- trading days
    entry_price    REAL    CHECK (entry_price IS NULL OR entry_price > 0),  -- price at the prediction
    status         TEXT    NOT NULL DEFAULT 'open'  -- open, hit_target, stopped or expired
                           CHECK (status IN ('open', 'hit_target', 'stopped', 'expired')),
    exit_date      TEXT    CHECK (exit_date IS NULL OR exit_date IS date(exit_date, '+0 days')),  -- day the target, stop or expiry closed it (tracking)
    exit_price     REAL    CHECK (exit_price IS NULL OR exit_price > 0),  -- price it closed at (tracking)
    extra          TEXT    CHECK (extra IS NULL OR json_valid(extra)),  -- undocumented fields, kept
    batch_id       INTEGER REFERENCES import_batches (id),  -- the import batch that created the row
    CHECK (exit_date IS NULL OR exit_date >= date)
) STRICT;
CREATE INDEX predictions_strategy_date ON predictions (strategy_id, date);
CREATE INDEX predictions_open ON predictions (status) WHERE status = 'open';

CREATE TABLE trades (
    id                   INTEGER PRIMARY KEY,  -- surrogate key
    legacy_id            TEXT    UNIQUE,  -- the old trade_id, as text
    prediction_id        INTEGER REFERENCES predictions (id),  -- the prediction it executes (NULL: manual, or its prediction was deleted)
    prediction_legacy_id TEXT,            -- kept when the prediction is missing (link NULL)
    ticker_id            INTEGER NOT NULL REFERENCES tickers (id),  -- the ticker traded
    side                 TEXT    NOT NULL CHECK (side IN ('long', 'short')),  -- long or short
    entry_date           TEXT    NOT NULL CHECK (entry_date IS date(entry_date, '+0 days')),  -- fill day of the entry
    entry_price          REAL    NOT NULL CHECK (entry_price > 0),  -- entry fill price
    signal_price         REAL    CHECK (signal_price IS NULL OR signal_price > 0),  -- for slippage
    shares               REAL    NOT NULL CHECK (shares > 0),  -- number of shares (positive)
    exit_date            TEXT    CHECK (exit_date IS NULL OR exit_date IS date(exit_date, '+0 days')),  -- fill day of the exit (NULL while open)
    exit_price           REAL    CHECK (exit_price IS NULL OR exit_price > 0),  -- exit fill price (NULL while open)
    status               TEXT    NOT NULL CHECK (status IN ('OPEN', 'CLOSED', 'CANCELLED')),  -- OPEN, CLOSED or CANCELLED
    pnl                  REAL,            -- as stored by the old system (or computed when new)
    pnl_computed         REAL,            -- recomputed from prices, shares and fees
    pnl_mismatch         INTEGER NOT NULL DEFAULT 0 CHECK (pnl_mismatch IN (0, 1)),  -- 1 when the stored pnl disagrees with prices, shares and fees
    fees                 REAL    NOT NULL DEFAULT 0 CHECK (fees >= 0),  -- fees paid, currency
    exit_reason          TEXT,  -- why it closed (target, stop, expired, manual, ...)
    extra                TEXT    CHECK (extra IS NULL OR json_valid(extra)),  -- undocumented fields, kept as JSON
    batch_id             INTEGER REFERENCES import_batches (id),  -- the import batch that created the row
    CHECK (exit_date IS NULL OR exit_date >= entry_date),
    CHECK (status <> 'CLOSED' OR (exit_date IS NOT NULL AND exit_price IS NOT NULL))
) STRICT;
CREATE INDEX trades_prediction ON trades (prediction_id);
CREATE INDEX trades_ticker ON trades (ticker_id, entry_date);

-- Daily snapshot of each strategy's live performance (written by `track update`).
CREATE TABLE performance_metrics (
    id             INTEGER PRIMARY KEY,  -- surrogate key
    strategy_id    INTEGER NOT NULL REFERENCES strategies (id),  -- the strategy
    date           TEXT    NOT NULL CHECK (date IS date(date, '+0 days')),  -- snapshot day (as-of date of `track update`)
    accuracy       REAL    CHECK (accuracy IS NULL OR (accuracy >= 0 AND accuracy <= 1)),  -- hit_target / closed predictions
    win_rate       REAL    CHECK (win_rate IS NULL OR (win_rate >= 0 AND win_rate <= 1)),  -- winning closed trades / closed trades
    profit_factor  REAL,  -- gross wins / gross losses of closed trades
    sharpe         REAL,  -- annualized Sharpe of the daily equity returns
    sortino        REAL,  -- annualized Sortino of the daily equity returns
    max_drawdown   REAL    CHECK (max_drawdown IS NULL OR (max_drawdown >= -1 AND max_drawdown <= 0)),  -- worst peak-to-trough loss, negative fraction
    total_return   REAL,  -- equity / capital - 1
    realized_pnl   REAL,  -- P&L of closed trades, currency
    unrealized_pnl REAL,  -- P&L of open trades marked at the close, currency
    n_open         INTEGER CHECK (n_open IS NULL OR n_open >= 0),  -- open predictions
    n_closed       INTEGER CHECK (n_closed IS NULL OR n_closed >= 0),  -- closed predictions
    extra          TEXT    CHECK (extra IS NULL OR json_valid(extra)),  -- further figures (trade counts) as JSON
    UNIQUE (strategy_id, date)
) STRICT;

CREATE TABLE volume_leaders (
    id        INTEGER PRIMARY KEY,  -- surrogate key
    date      TEXT    NOT NULL CHECK (date IS date(date, '+0 days')),  -- the day (daily) or the first trading day of the period
    timeframe TEXT    NOT NULL CHECK (timeframe IN ('daily', 'weekly', 'monthly')),  -- daily, weekly or monthly
    rank      INTEGER NOT NULL CHECK (rank >= 1),  -- 1 = highest volume
    ticker_id INTEGER NOT NULL REFERENCES tickers (id),  -- the ticker
    volume    INTEGER CHECK (volume IS NULL OR volume >= 0),  -- shares traded in the period
    price     REAL    CHECK (price IS NULL OR price > 0),  -- close price
    extra     TEXT    CHECK (extra IS NULL OR json_valid(extra)),  -- undocumented fields, kept as JSON
    batch_id  INTEGER REFERENCES import_batches (id),  -- the import batch that created the row (NULL: computed)
    UNIQUE (timeframe, date, ticker_id)
) STRICT;

-- Sweeps: one row a run; results live in Parquet, the best combinations in backtest_results.
CREATE TABLE sweep_runs (
    id              INTEGER PRIMARY KEY,  -- run id (`--resume RUN_ID`)
    strategy        TEXT    NOT NULL,  -- strategy name
    grid_json       TEXT    NOT NULL CHECK (json_valid(grid_json)),  -- the parameter grid
    settings_json   TEXT    NOT NULL CHECK (json_valid(settings_json)),  -- simulation settings, universe and period
    combos          INTEGER NOT NULL CHECK (combos >= 0),  -- number of parameter sets
    results_path    TEXT,  -- the Parquet file of per-ticker, per-combination results
    status          TEXT    NOT NULL CHECK (status IN ('running', 'done', 'failed')),  -- running, done or failed
    created_at      TEXT    NOT NULL CHECK (datetime(created_at) IS NOT NULL),  -- UTC start time
    finished_at     TEXT,  -- UTC end time
    quantdb_version TEXT    NOT NULL  -- the quantdb that ran it
) STRICT;

CREATE TABLE backtest_results (
    id               INTEGER PRIMARY KEY,  -- backtest id (`--backtest ID`)
    strategy_id      INTEGER NOT NULL REFERENCES strategies (id),  -- the strategy
    start_date       TEXT    NOT NULL CHECK (start_date IS date(start_date, '+0 days')),  -- first bar
    end_date         TEXT    NOT NULL CHECK (end_date IS date(end_date, '+0 days')),  -- last bar
    total_return     REAL,  -- final equity / cash - 1
    sharpe           REAL,  -- annualized Sharpe of daily equity returns
    max_dd           REAL    CHECK (max_dd IS NULL OR (max_dd >= -1 AND max_dd <= 0)),  -- max drawdown, negative fraction
    trades           INTEGER NOT NULL CHECK (trades >= 0),  -- number of trades
    final_equity     REAL,  -- equity after the last bar
    params_json      TEXT    NOT NULL CHECK (json_valid(params_json)),  -- strategy parameters
    settings_json    TEXT    NOT NULL CHECK (json_valid(settings_json)),  -- simulation settings, tickers, universe and data source
    stats_json       TEXT    CHECK (stats_json IS NULL OR json_valid(stats_json)),  -- every metric and trade statistic
    data_fingerprint TEXT    NOT NULL,  -- hash of the exact bars used (reruns must match)
    quantdb_version  TEXT    NOT NULL,  -- the quantdb that ran it
    sweep_run_id     INTEGER REFERENCES sweep_runs (id),  -- the sweep it came from, if any
    created_at       TEXT    NOT NULL CHECK (datetime(created_at) IS NOT NULL),  -- UTC time it ran
    CHECK (end_date >= start_date)
) STRICT;

CREATE TABLE backtest_trades (
    id           INTEGER PRIMARY KEY,  -- surrogate key
    backtest_id  INTEGER NOT NULL REFERENCES backtest_results (id) ON DELETE CASCADE,  -- the backtest
    ticker       TEXT    NOT NULL,  -- ticker symbol
    entry_date   TEXT    NOT NULL CHECK (entry_date IS date(entry_date, '+0 days')),  -- entry fill day
    exit_date    TEXT    NOT NULL CHECK (exit_date IS date(exit_date, '+0 days')),  -- exit fill day
    entry_price  REAL    NOT NULL CHECK (entry_price > 0),  -- entry fill price (after slippage)
    exit_price   REAL    NOT NULL CHECK (exit_price > 0),  -- exit fill price (after slippage)
    size         REAL    NOT NULL,  -- shares, negative for a short
    pnl          REAL    NOT NULL,  -- profit and loss after fees
    return_pct   REAL    NOT NULL,  -- pnl / entry value (a fraction despite the name)
    fees         REAL    NOT NULL CHECK (fees >= 0),  -- commissions and borrow cost
    exit_reason  TEXT    NOT NULL,  -- signal, stop, target, trailing, time or end
    bars_held    INTEGER NOT NULL CHECK (bars_held >= 0),  -- bars between entry and exit
    CHECK (exit_date >= entry_date)
) STRICT;
CREATE INDEX backtest_trades_backtest ON backtest_trades (backtest_id);

CREATE TABLE backtest_equity (
    backtest_id INTEGER NOT NULL REFERENCES backtest_results (id) ON DELETE CASCADE,  -- the backtest
    date        TEXT    NOT NULL CHECK (date IS date(date, '+0 days')),  -- trading day
    equity      REAL    NOT NULL,  -- cash + positions marked at the close
    exposure    REAL    NOT NULL,  -- gross position value / equity
    PRIMARY KEY (backtest_id, date)
) STRICT, WITHOUT ROWID;

-- Zero-loss migration: the raw original of every record read, and what became of it.
CREATE TABLE raw_records (
    id           INTEGER PRIMARY KEY,  -- surrogate key
    batch_id     INTEGER NOT NULL REFERENCES import_batches (id),  -- the import batch
    file         TEXT    NOT NULL,                  -- relative to the imported folder
    position     INTEGER NOT NULL CHECK (position >= 0),   -- 0-based index (or CSV data row)
    record_key   TEXT,                              -- e.g. the leader date for leader files
    raw          TEXT    NOT NULL,                  -- the record as written (JSON text or CSV line)
    outcome      TEXT    NOT NULL CHECK (outcome IN ('imported', 'duplicate', 'already_present', 'quarantined')),  -- imported, duplicate, already_present or quarantined
    target_table TEXT,  -- the table the record became a row of
    target_id    INTEGER,  -- that row's id
    flags        TEXT    CHECK (flags IS NULL OR json_valid(flags)),  -- kept-and-flagged findings (pnl mismatch, missing prediction, ...)
    UNIQUE (batch_id, file, position)
) STRICT;
CREATE INDEX raw_records_target ON raw_records (target_table, target_id);

CREATE TABLE quarantine (
    id            INTEGER PRIMARY KEY,  -- surrogate key
    batch_id      INTEGER NOT NULL REFERENCES import_batches (id),  -- the import batch
    raw_record_id INTEGER NOT NULL UNIQUE REFERENCES raw_records (id),  -- the raw original
    file          TEXT    NOT NULL,  -- the legacy file
    position      INTEGER NOT NULL,  -- the record's position in the file
    field         TEXT    NOT NULL,  -- the field that broke a rule
    rule          TEXT    NOT NULL,  -- the rule (missing_ticker, impossible_date, ...)
    reason        TEXT    NOT NULL,  -- what was expected and what arrived
    resolved_at   TEXT    CHECK (resolved_at IS NULL OR datetime(resolved_at) IS NOT NULL)  -- when a fixed copy was re-imported
) STRICT;

-- What a batch changed in rows it did not create, so rollback restores them exactly.
CREATE TABLE batch_changes (
    id          INTEGER PRIMARY KEY,  -- surrogate key
    batch_id    INTEGER NOT NULL REFERENCES import_batches (id),  -- the batch that changed the row
    table_name  TEXT    NOT NULL,  -- the table
    row_id      INTEGER NOT NULL,  -- the row changed
    before_json TEXT    NOT NULL CHECK (json_valid(before_json))  -- the row before the change (restored by rollback)
) STRICT;
