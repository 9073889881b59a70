# bench/graphs.gp — the graphs of `./build.sh bench http`, drawn by gnuplot
# from the data bench.sh writes (medians of one run; see bench.sh
# http_graphs). It owns the drawing only, not the figures.
#
#   gnuplot -e "dir='DATA'; out='OUTDIR'; servers='ducta ceiling ...'; \
#               scenarios='keepalive ...'; rate='N'" bench/graphs.gp
#
# DATA/rps-SCENARIO.dat  "server req/s"               -> OUT/bench-rps.svg
# DATA/conns-SERVER.dat  "connections req/s RSS_MiB"  -> OUT/bench-conns.svg
# DATA/lat-SERVER.dat    "nines latency_ms"           -> OUT/bench-latency.svg
#   (nines = -log10(1 - percentile): 1 is p90, 2 p99, 3 p99.9)

set terminal svg size 1200,700 dynamic font "sans,12" background "white"
set grid ytics lc rgb "#dddddd"
set border 3
set tics nomirror

# ducta orange, the ceiling grey, every other server blue: one colour per
# role in the bar charts; one per server in the line charts
set linetype 1 lc rgb "#d95f02" lw 2 pt 7
set linetype 2 lc rgb "#999999" lw 2 pt 5
set linetype 3 lc rgb "#4477aa" lw 2 pt 9
role(s) = s eq "ducta" ? 1 : (s eq "ceiling" ? 2 : 3)
array pal[7] = ["#d95f02", "#999999", "#4477aa", "#228833", "#aa3377", "#66ccee", "#ccbb44"]
color(i) = pal[(i - 1) % 7 + 1]

# ---- requests/s per server, one panel per scenario
set output out."/bench-rps.svg"
throughput = ""
do for [i = 1:words(scenarios)] {
    if (word(scenarios, i) ne "latency") { throughput = throughput." ".word(scenarios, i) }
}
n = words(throughput)
cols = n > 4 ? 4 : n
rows = (n + cols - 1) / cols
set multiplot layout rows, cols title "requests/s, median of the rounds (one worker each, loopback; ducta orange, ceiling grey)"
set style fill solid 0.85 border -1
set boxwidth 0.7
set xtics rotate by -40 font ",10"
set ytics font ",10"
set format y "%.0fk"
set yrange [0:*]
unset key
do for [i = 1:n] {
    sc = word(throughput, i)
    set title sc font ",12"
    plot dir."/rps-".sc.".dat" using 0:($2 / 1000):(role(strcol(1))):xtic(1) with boxes lc variable, \
         "" using 0:($2 / 1000):(sprintf("%.0f", $2 / 1000)) with labels offset 0,0.6 font ",9"
}
unset multiplot
unset title
unset xtics
set xtics nomirror
unset format

# ---- requests/s and RSS against concurrent connections (when measured)
has(w) = strstrt(" ".scenarios." ", " ".w." ") > 0
if (has("keepalive") || has("c1000") || has("c10000")) {
set output out."/bench-conns.svg"
set multiplot layout 1, 2 title "keep-alive /plaintext as connections grow (wrk -t1 -cN); RSS read while they are open"
set logscale x
set xtics ("64" 64, "1000" 1000, "10000" 10000) font ",10"
set xlabel "concurrent connections"
set key outside right top vertical font ",10"
set ylabel "requests/s (thousands)"
set yrange [0:*]
set title "requests/s"
plot for [i = 1:words(servers)] dir."/conns-".word(servers, i).".dat" using 1:($2 / 1000) \
     with linespoints lc rgb color(i) lw 2 pt 7 title word(servers, i)
set ylabel "RSS (MiB)"
set logscale y
set yrange [*:*]
set title "server RSS in round 1 (nginx: its worker)"
plot for [i = 1:words(servers)] dir."/conns-".word(servers, i).".dat" using 1:3 \
     with linespoints lc rgb color(i) lw 2 pt 7 title word(servers, i)
unset multiplot
unset logscale
}

# ---- latency distribution at the fixed rate (when measured)
if (has("latency")) {
set output out."/bench-latency.svg"
set title "latency at a fixed ".rate." req/s (hey -q, keep-alive /plaintext), every round's requests"
set xlabel "percentile"
set ylabel "latency (ms)"
set logscale y
set xrange [0:4]
set yrange [*:*]
set xtics ("0" 0, "50" 0.30103, "90" 1, "99" 2, "99.9" 3, "99.99" 4)
set key left top font ",10"
plot for [i = 1:words(servers)] dir."/lat-".word(servers, i).".dat" using 1:2 \
     with lines lc rgb color(i) lw 2 title word(servers, i)
}
