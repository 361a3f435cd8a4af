"""Statistics for regulators and open data for the public (issue 6).

Every figure is a sum over the daily rollups (`ComplaintDay`, `LookupDay`, `LookupAppDay`), which
`services.statistics_refresh` rebuilds from the case and lookup rows. One SQL scan with GROUPING SETS answers
a whole dashboard (`figures`); only the median days to a final answer and the case CSV read the case rows.

filters   what is counted (Filters, periods, buckets) and who may see it (statistics_filters_for_user)
rollups   the rollups' dimensions and measures          services  the refresh that rebuilds them
figures   one scan of the rollups, shares and labels    headline  the headline figures
trends    figures per bucket                            rankings  figures per platform, carrier, province...
reports   the dashboard, the quarterly notice, the case CSV
public    open data with small cells suppressed
charts    server-drawn SVG                              views, api  pages, CSV and the statistics API
"""
