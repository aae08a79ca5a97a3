#!/usr/bin/env bash
# Issue 14, benchmark 1: dcos-upgrade against the floor. For each round and activation delay,
# on fresh firewalled testbeds of the same shape, alternating: (a) the floor, a plain serial loop
# with one `ssh NODE bash -s < benches/floor_node.sh` per node (the node script, then a 50 ms
# health poll on the node), standbys first, the leader last (read from /master/redirect on m1
# over SSH), then the agents one at a time; (b) `dcos-upgrade run`. Prints one line per side and
# round, then the medians. Usage:
#   benches/floor.sh [ROUNDS] [ACTIVATION_MS...]      (default: 3 rounds, 0 and 1000 ms)
# Env: MASTERS (3), AGENTS (3), PUBLIC (1), DCOS_SIM, DCOS_UPGRADE (default
# ${CARGO_TARGET_DIR:-target}/debug/...), BENCH_KEEP=1 keeps the scratch directory.
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=benches/lib.sh
. "$here/lib.sh"
rounds=${1:-3}; shift || true
acts=("$@"); [ "${#acts[@]}" -gt 0 ] || acts=(0 1000)
shape=(--masters "${MASTERS:-3}" --agents "${AGENTS:-3}" --public-agents "${PUBLIC:-1}" --version 2.2.0 --upgrade-to 2.2.1)
out=$BENCH_DIR/results.txt

# floor D: seconds for the whole serial loop (leader lookup included).
floor() {
  local d=$1 url t0 t1 leader m masters=() n
  url=$(script_url "$d")
  for m in $(nodes "$d" m); do masters+=("$(addr "$d" "$m")"); done
  for n in $(nodes "$d" m) $(nodes "$d" a) $(nodes "$d" p); do on "$d" "$n" true; done
  t0=$(now)
  leader=$(on "$d" m1 "curl -fsS -o /dev/null -w '%{redirect_url}' http://${masters[0]}:5050/master/redirect" | sed 's#^[a-z]*:*//##; s#:.*##')
  [ -n "$leader" ] || { echo "no leader" >&2; return 1; }
  local order=()
  for m in $(nodes "$d" m); do [ "$(addr "$d" "$m")" = "$leader" ] || order+=("$m"); done
  for m in $(nodes "$d" m); do [ "$(addr "$d" "$m")" != "$leader" ] || order+=("$m"); done
  for n in "${order[@]}"; do
    on "$d" "$n" bash -s -- master "$(root_of "$d" "$n")" "$url" "$(addr "$d" "$n")" "${masters[@]}" < "$here/floor_node.sh"
  done
  for n in $(nodes "$d" a) $(nodes "$d" p); do
    on "$d" "$n" bash -s -- agent "$(root_of "$d" "$n")" "$url" "$(addr "$d" "$n")" < "$here/floor_node.sh"
  done
  t1=$(now)
  secs "$t0" "$t1"
}

# tool D: "masters+agents end-to-end" seconds of one `dcos-upgrade run`.
tool() {
  local d=$1 s=$1/state t0 t1 ma pa
  t0=$(now)
  tool_run "$d" "$s" run --inventory "$d/inventory.toml" --to 2.2.1 --ack-release-notes 2.2.1 --yes
  t1=$(now)
  ma=$(ts_of "$s/events.jsonl" '.event=="phase_started" and .phase=="masters"')
  pa=$(ts_of "$s/events.jsonl" '.event=="phase_started" and .phase=="postcheck"')
  echo "$(secs "$ma" "$pa") $(secs "$t0" "$t1")"
}

nodes_total=$(( ${MASTERS:-3} + ${AGENTS:-3} + ${PUBLIC:-1} ))
echo "# $(date -u +%FT%TZ) load: $(cut -d' ' -f1-3 /proc/loadavg) shape: ${shape[*]}" | tee "$out"
for act in "${acts[@]}"; do
  for r in $(seq "$rounds"); do
    d=$BENCH_DIR/floor-$act-$r; sim_up "floor-$act-$r" "${shape[@]}" --activation-ms "$act"
    rtt=$(ssh_rtt "$d" m1 20); fresh=$(ssh_fresh "$d" m1 5)
    f=$(floor "$d")
    sim_down "$d"
    d=$BENCH_DIR/tool-$act-$r; sim_up "tool-$act-$r" "${shape[@]}" --activation-ms "$act"
    res=$(tool "$d"); ma=${res% *}; e2e=${res#* }
    sim_down "$d"
    echo "act=$act round=$r floor=$f tool_ma=$ma tool_e2e=$e2e ratio=$(printf '%.3f' "$(echo "$ma / $f" | bc -l)") per_step_ms=$(printf '%.0f' "$(echo "($ma - $f) * 1000 / $nodes_total" | bc -l)") ssh_mux_ms=$rtt ssh_fresh_ms=$fresh load=$(cut -d' ' -f1 /proc/loadavg)" | tee -a "$out"
  done
done
echo "# medians (min max):"
for act in "${acts[@]}"; do
  for k in floor tool_ma tool_e2e ratio per_step_ms ssh_mux_ms ssh_fresh_ms; do
    echo "act=$act $k $(stats_of "$out" "act=$act " "$k")"
  done
done | tee -a "$out"
