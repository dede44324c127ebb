# The plot of a soak run (scripts/soak): out/soak.png from out/soak.tsv.
#   gnuplot -e "out='DIR'; ivs=60; agencies='tax social_insurance housing_fund bank_ICBC'" scripts/lib/soak.gp
# (ivs: seconds per record, --interval-s; the last record, after the drain, may be shorter)
# Columns are read by their header names, so the record may gain columns.
# The x axis is hours since the start; one panel per question:
#   1 memory and open files: does anything grow without bound?
#   2 store size: yilian.db, its WAL, the archive
#   3 latencies per interval (log scale): confirm p50 and p99, settle p99
#   4 backlog per agency (unsettled deliveries): outages show as humps that drain
#   5 rates: offered by the day curve, published, confirmed, settled
set terminal pngcairo size 1400,1900 font ",10"
set output out.'/soak.png'
set datafile separator "\t"
set datafile missing "NaN"
set termoption noenhanced
set key top left
set grid
set xlabel 'hours since the start'
set multiplot layout 5,1
h(c) = column("elapsed_s") / 3600.0

set title 'Memory (RSS, MiB) and open file descriptors of the broker'
set ylabel 'MiB'
set y2label 'open fds'
set y2tics
set y2range [0:*]
set ytics nomirror
plot out.'/soak.tsv' using (h(0)):(column("broker_rss_kb")/1024) with lines lw 2 title 'broker RSS', \
     for [a in agencies] out.'/soak.tsv' using (h(0)):(column("adapter_rss_kb_".a)/1024) with lines title 'adapter '.a.' RSS', \
     out.'/soak.tsv' using (h(0)):(column("broker_fds")) axes x1y2 with lines dt 2 lw 2 title 'broker fds (right)'
unset y2tics
unset y2label
set autoscale y2
set ytics mirror

set title 'Store size (MiB)'
set ylabel 'MiB'
plot out.'/soak.tsv' using (h(0)):(column("db_bytes")/1048576) with lines lw 2 title 'yilian.db', \
     '' using (h(0)):(column("wal_bytes")/1048576) with lines title 'yilian.db-wal', \
     '' using (h(0)):(column("archive_bytes")/1048576) with lines title 'archive'

set title 'Latency per interval (ms, log scale): publish to confirm, publish to case settled'
set ylabel 'ms'
set logscale y
plot out.'/soak.tsv' using (h(0)):(column("confirm_p50_ms")) with lines title 'confirm p50', \
     '' using (h(0)):(column("confirm_p99_ms")) with lines lw 2 title 'confirm p99', \
     '' using (h(0)):(column("settle_p99_ms")) with lines lw 2 title 'settle p99'
unset logscale y

set title 'Backlog per agency (unsettled deliveries, yilian_queue_depth)'
set ylabel 'deliveries'
plot for [a in agencies] out.'/soak.tsv' using (h(0)):(column("backlog_".a)) with lines lw 2 title a

set title 'Events per second in each interval'
set ylabel 'events/s'
plot out.'/soak.tsv' using (h(0)):(column("offered_per_s")) with lines dt 2 lw 2 title 'offered (day curve)', \
     '' using (h(0)):(column("published")/ivs) with lines title 'published', \
     '' using (h(0)):(column("confirmed")/ivs) with lines title 'confirmed', \
     '' using (h(0)):(column("settled")/ivs) with lines title 'settled'
unset multiplot
