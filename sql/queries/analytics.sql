-- name: equity_trades
-- Every filled trade entered on or before :asof, with its strategy ('(unlinked)' without a
-- prediction) and the start-day bar that fixes its price units (see track_exits).
SELECT t.id, coalesce(s.name, '(unlinked)') AS strategy, t.ticker_id, t.side, t.entry_date,
       t.entry_price, t.shares, t.fees,
       CASE WHEN t.status = 'CLOSED' AND t.exit_date <= :asof THEN t.exit_date END AS exit_date,
       CASE WHEN t.status = 'CLOSED' AND t.exit_date <= :asof THEN t.exit_price END AS exit_price,
       (SELECT b.close FROM price_history AS b
         WHERE b.ticker_id = t.ticker_id AND b.date <= t.entry_date AND b.close IS NOT NULL
         ORDER BY b.date DESC LIMIT 1) AS close0,
       (SELECT coalesce(b.adj_close, b.close) FROM price_history AS b
         WHERE b.ticker_id = t.ticker_id AND b.date <= t.entry_date AND b.close IS NOT NULL
         ORDER BY b.date DESC LIMIT 1) AS adj0
FROM trades AS t
LEFT JOIN predictions AS p ON p.id = t.prediction_id
LEFT JOIN strategies AS s ON s.id = p.strategy_id
WHERE t.status IN ('OPEN', 'CLOSED') AND t.entry_date <= :asof
  AND (:strategy IS NULL OR s.name = :strategy)
ORDER BY t.id;

-- name: equity_prices
-- Adjusted closes of the traded tickers from the first entry to :asof (NULL bars skipped).
SELECT b.ticker_id, b.date, coalesce(b.adj_close, b.close) AS price
FROM price_history AS b
WHERE b.date >= :start AND b.date <= :asof AND b.close IS NOT NULL
  AND b.ticker_id IN (SELECT DISTINCT ticker_id FROM trades WHERE status IN ('OPEN', 'CLOSED'))
ORDER BY b.date;

-- name: trading_dates
-- Every date with at least one bar, in a range.
SELECT DISTINCT date FROM price_history WHERE date >= :start AND date <= :asof ORDER BY date;

-- name: ticker_closes
-- Adjusted closes of one ticker (by symbol), oldest first.
SELECT b.date, coalesce(b.adj_close, b.close) AS price
FROM price_history AS b JOIN tickers AS t ON t.id = b.ticker_id
WHERE t.symbol = :symbol AND b.close IS NOT NULL
ORDER BY b.date;

-- name: closed_trades_by_strategy
-- P&L and holding days of closed trades, with the strategy name.
SELECT coalesce(s.name, '(unlinked)') AS strategy, coalesce(t.pnl_computed, t.pnl) AS pnl,
       julianday(t.exit_date) - julianday(t.entry_date) AS holding_days,
       t.entry_date, t.exit_date
FROM trades AS t
LEFT JOIN predictions AS p ON p.id = t.prediction_id
LEFT JOIN strategies AS s ON s.id = p.strategy_id
WHERE t.status = 'CLOSED' AND t.exit_date <= :asof AND (:strategy IS NULL OR s.name = :strategy);

-- name: strategy_exists
SELECT count(*) FROM strategies WHERE name = :strategy;

-- name: upsert_volume_leader
INSERT INTO volume_leaders (date, timeframe, rank, ticker_id, volume, price)
VALUES (:date, :timeframe, :rank, :ticker_id, :volume, :price)
ON CONFLICT (timeframe, date, ticker_id) DO UPDATE SET
    rank = excluded.rank, volume = excluded.volume, price = excluded.price
WHERE rank IS NOT excluded.rank OR volume IS NOT excluded.volume OR price IS NOT excluded.price;
