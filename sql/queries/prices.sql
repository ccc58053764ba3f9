-- name: price_watermark
-- What identifies the current content of price_history (and the ticker symbols it uses):
-- the newest id (AUTOINCREMENT, never reused) and the update/delete counter.
SELECT (SELECT coalesce(max(id), 0) FROM price_history) AS max_id,
       (SELECT version FROM table_versions WHERE name = 'price_history') AS version,
       (SELECT count(*) FROM tickers) AS n_tickers;

-- name: price_rows_for_mirror
-- Every bar after a given id (0 = all), as numbers only: ticker id, days since 1970-01-01, fields.
-- No join and no ORDER BY: the mirror scatters rows into place itself.
SELECT ticker_id, CAST(julianday(date) - 2440587.5 AS INTEGER) AS day,
       open, high, low, close, adj_close, volume
FROM price_history
WHERE id > :after_id;

-- name: ticker_symbols
-- id -> symbol of every ticker.
SELECT id, symbol FROM tickers;

-- name: ohlcv_long
-- Long-format OHLCV for some tickers over a date range (both ends included).
SELECT t.symbol AS ticker, p.date, p.open, p.high, p.low, p.close, p.adj_close, p.volume
FROM price_history AS p JOIN tickers AS t ON t.id = p.ticker_id
WHERE p.date >= :start AND p.date <= :end
ORDER BY t.symbol, p.date;

-- name: ticker_ids
-- symbol -> id for every ticker.
SELECT symbol, id FROM tickers;

-- name: insert_ticker
INSERT INTO tickers (symbol, name, sector, market_cap, batch_id)
VALUES (:symbol, :name, :sector, :market_cap, :batch_id)
ON CONFLICT (symbol) DO NOTHING;

-- name: insert_price
INSERT INTO price_history (ticker_id, date, open, high, low, close, volume, adj_close, batch_id)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?);

-- name: upsert_price
INSERT INTO price_history (ticker_id, date, open, high, low, close, volume, adj_close, batch_id)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (ticker_id, date) DO UPDATE SET
    open = excluded.open, high = excluded.high, low = excluded.low, close = excluded.close,
    volume = excluded.volume, adj_close = excluded.adj_close
WHERE open IS NOT excluded.open OR high IS NOT excluded.high OR low IS NOT excluded.low
   OR close IS NOT excluded.close OR volume IS NOT excluded.volume
   OR adj_close IS NOT excluded.adj_close;

-- name: ticker_days
-- Every bar's day (days since 1970-01-01) by ticker, in index order: calendar gaps per ticker.
SELECT t.symbol, CAST(julianday(p.date) - 2440587.5 AS INTEGER) AS day
FROM price_history AS p JOIN tickers AS t ON t.id = p.ticker_id
ORDER BY t.symbol, p.date;

-- name: get_database_setting
SELECT value FROM database_settings WHERE key = :key;

-- name: set_database_setting
INSERT INTO database_settings (key, value) VALUES (:key, :value)
ON CONFLICT (key) DO UPDATE SET value = excluded.value;
