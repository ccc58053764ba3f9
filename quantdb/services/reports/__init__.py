"""Reports: the pieces (trade log, equity vs SPY, drawdowns, monthly returns, comparison,
rolling Sharpe and beta) and the documents built from them (QuantStats tearsheet, HTML
dashboard, Excel workbook, PDF).

``data`` reads the database (read-only), ``analysis`` turns return series into tables with
quantdb's kernels, ``bundle`` computes everything a full report shows once, so that the
dashboard, the workbook and the PDF show the same numbers; ``charts`` draws them.
"""
