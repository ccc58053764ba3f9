-- name: track_exits
-- Every open prediction and open trade (entered on or before :asof), with its first exit event
-- among the bars strictly after its start date up to :asof (NULL: still open). One query:
-- window functions number each position's bars and pick the first event.
--
-- Price units: a position's levels (target, stop, entry) are in the units of its reference
-- price. When that price is nearer the start bar's adj_close than its raw close (the legacy
-- files quote split-adjusted prices), bars are compared in adjusted units (raw x adj/close);
-- otherwise in the raw units of the start day (adjusted bars divided by the start day's factor).
-- :close_only = 1 judges targets and stops on the close alone (the legacy convention).
-- Intrabar (:close_only = 0): a bar opening through a level fills at the open (gap); a bar
-- touching both levels counts the stop first; expiry is the close of bar timeframe_days.
WITH pos AS (
    SELECT 'prediction' AS kind, p.id AS id, p.ticker_id, p.date AS start_date,
           CASE p.position WHEN 'LONG' THEN 1 ELSE -1 END AS sign,
           p.target, p.stop_loss, p.timeframe_days, p.entry_price AS ref_price
    FROM predictions AS p
    WHERE p.status = 'open' AND p.date <= :asof
    UNION ALL
    SELECT 'trade', t.id, t.ticker_id, t.entry_date,
           CASE t.side WHEN 'long' THEN 1 ELSE -1 END,
           p.target, p.stop_loss, p.timeframe_days, t.entry_price
    FROM trades AS t LEFT JOIN predictions AS p ON p.id = t.prediction_id
    WHERE t.status = 'OPEN' AND t.entry_date <= :asof
),
-- k = 1, 2, ... numbers each ticker's bars (NULL bars are not trading bars), so that the
-- timeframe_days-th bar after a start is one equality lookup and no bar beyond it is read.
idx AS (
    SELECT ticker_id, date, row_number() OVER (PARTITION BY ticker_id ORDER BY date) AS k
    FROM price_history
    WHERE close IS NOT NULL AND date <= :asof AND ticker_id IN (SELECT ticker_id FROM pos)
),
start_bar AS (
    SELECT pos.*,
           (SELECT count(*) FROM price_history AS b
             WHERE b.ticker_id = pos.ticker_id AND b.date <= pos.start_date AND b.close IS NOT NULL) AS k0,
           (SELECT b.close FROM price_history AS b
             WHERE b.ticker_id = pos.ticker_id AND b.date <= pos.start_date AND b.close IS NOT NULL
             ORDER BY b.date DESC LIMIT 1) AS close0,
           (SELECT coalesce(b.adj_close, b.close) FROM price_history AS b
             WHERE b.ticker_id = pos.ticker_id AND b.date <= pos.start_date AND b.close IS NOT NULL
             ORDER BY b.date DESC LIMIT 1) AS adj0
    FROM pos
),
units AS (
    SELECT start_bar.*,
           CASE
               WHEN close0 IS NULL THEN 1.0
               WHEN ref_price IS NOT NULL AND abs(ref_price - adj0) < abs(ref_price - close0) THEN 1.0
               ELSE close0 / adj0
           END AS u,
           CASE WHEN timeframe_days IS NULL THEN :asof
                ELSE coalesce((SELECT i.date FROM idx AS i
                               WHERE i.ticker_id = start_bar.ticker_id AND i.k = start_bar.k0 + start_bar.timeframe_days),
                              :asof)
           END AS end_date
    FROM start_bar
),
bars AS (
    SELECT u.kind, u.id, u.sign, u.target, u.stop_loss, u.timeframe_days, b.date,
           row_number() OVER (PARTITION BY u.kind, u.id ORDER BY b.date) AS n,
           coalesce(b.adj_close / b.close, 1.0) * u.u AS f,
           b.open, b.high, b.low, b.close
    FROM units AS u
    JOIN price_history AS b
      ON b.ticker_id = u.ticker_id AND b.date > u.start_date AND b.date <= u.end_date
     AND b.close IS NOT NULL
),
scaled AS (
    SELECT kind, id, sign, target, stop_loss, timeframe_days, date, n,
           close * f AS c,
           CASE WHEN :close_only THEN close * f ELSE coalesce(open, close) * f END AS o,
           CASE WHEN :close_only THEN close * f ELSE coalesce(high, max(open, close), close) * f END AS h,
           CASE WHEN :close_only THEN close * f ELSE coalesce(low, min(open, close), close) * f END AS l
    FROM bars
),
flagged AS (
    SELECT kind, id, date, n,
           CASE
               WHEN stop_loss IS NOT NULL AND sign * (o - stop_loss) <= 0 THEN 'stopped'
               WHEN target IS NOT NULL AND sign * (o - target) >= 0 THEN 'hit_target'
               WHEN stop_loss IS NOT NULL AND ((sign = 1 AND l <= stop_loss) OR (sign = -1 AND h >= stop_loss)) THEN 'stopped'
               WHEN target IS NOT NULL AND ((sign = 1 AND h >= target) OR (sign = -1 AND l <= target)) THEN 'hit_target'
               WHEN n = timeframe_days THEN 'expired'
           END AS outcome,
           CASE
               WHEN stop_loss IS NOT NULL AND sign * (o - stop_loss) <= 0 THEN o
               WHEN target IS NOT NULL AND sign * (o - target) >= 0 THEN o
               WHEN stop_loss IS NOT NULL AND ((sign = 1 AND l <= stop_loss) OR (sign = -1 AND h >= stop_loss)) THEN stop_loss
               WHEN target IS NOT NULL AND ((sign = 1 AND h >= target) OR (sign = -1 AND l <= target)) THEN target
               WHEN n = timeframe_days THEN c
           END AS exit_price
    FROM scaled
),
first_event AS (
    SELECT kind, id, date, outcome, exit_price, n
    FROM (SELECT *, row_number() OVER (PARTITION BY kind, id ORDER BY n) AS k
          FROM flagged WHERE outcome IS NOT NULL)
    WHERE k = 1
)
SELECT u.kind, u.id, e.outcome, e.date AS exit_date, e.exit_price, e.n AS bars_held
FROM units AS u
LEFT JOIN first_event AS e ON e.kind = u.kind AND e.id = u.id
ORDER BY u.kind, u.id;

-- name: latest_price_date
-- The newest date with a bar (the default as-of date of `track update`).
SELECT max(date) FROM price_history WHERE close IS NOT NULL;

-- name: close_prediction
UPDATE predictions SET status = :status, exit_date = :exit_date, exit_price = :exit_price
WHERE id = :id AND status = 'open';

-- name: close_trade
UPDATE trades
SET status = 'CLOSED', exit_date = :exit_date, exit_price = :exit_price, fees = :fees,
    pnl = :pnl, pnl_computed = :pnl, exit_reason = :exit_reason
WHERE id = :id AND status = 'OPEN';

-- name: prediction_counts
-- Per strategy, as of :asof: predictions open, and closed by outcome (a closed prediction
-- whose exit day is unknown counts as closed on its own date).
SELECT strategy_id,
       sum(CASE WHEN status = 'open' OR coalesce(exit_date, date) > :asof THEN 1 ELSE 0 END) AS n_open,
       sum(CASE WHEN status = 'hit_target' AND coalesce(exit_date, date) <= :asof THEN 1 ELSE 0 END) AS hit_target,
       sum(CASE WHEN status = 'stopped' AND coalesce(exit_date, date) <= :asof THEN 1 ELSE 0 END) AS stopped,
       sum(CASE WHEN status = 'expired' AND coalesce(exit_date, date) <= :asof THEN 1 ELSE 0 END) AS expired
FROM predictions
WHERE date <= :asof
GROUP BY strategy_id;

-- name: closed_trade_pnl
-- P&L of every trade closed on or before :asof, with its strategy (-1: no prediction).
SELECT coalesce(p.strategy_id, -1) AS strategy_id, coalesce(t.pnl_computed, t.pnl) AS pnl
FROM trades AS t LEFT JOIN predictions AS p ON p.id = t.prediction_id
WHERE t.status = 'CLOSED' AND t.exit_date <= :asof;

-- name: upsert_performance
INSERT INTO performance_metrics (strategy_id, date, accuracy, win_rate, profit_factor, sharpe, sortino,
                                 max_drawdown, total_return, realized_pnl, unrealized_pnl, n_open,
                                 n_closed, extra)
VALUES (:strategy_id, :date, :accuracy, :win_rate, :profit_factor, :sharpe, :sortino, :max_drawdown,
        :total_return, :realized_pnl, :unrealized_pnl, :n_open, :n_closed, :extra)
ON CONFLICT (strategy_id, date) DO UPDATE SET
    accuracy = excluded.accuracy, win_rate = excluded.win_rate, profit_factor = excluded.profit_factor,
    sharpe = excluded.sharpe, sortino = excluded.sortino, max_drawdown = excluded.max_drawdown,
    total_return = excluded.total_return, realized_pnl = excluded.realized_pnl,
    unrealized_pnl = excluded.unrealized_pnl, n_open = excluded.n_open, n_closed = excluded.n_closed,
    extra = excluded.extra
WHERE accuracy IS NOT excluded.accuracy OR win_rate IS NOT excluded.win_rate
   OR profit_factor IS NOT excluded.profit_factor OR sharpe IS NOT excluded.sharpe
   OR sortino IS NOT excluded.sortino OR max_drawdown IS NOT excluded.max_drawdown
   OR total_return IS NOT excluded.total_return OR realized_pnl IS NOT excluded.realized_pnl
   OR unrealized_pnl IS NOT excluded.unrealized_pnl OR n_open IS NOT excluded.n_open
   OR n_closed IS NOT excluded.n_closed OR extra IS NOT excluded.extra;

-- name: strategy_names
SELECT id, name FROM strategies ORDER BY name;
