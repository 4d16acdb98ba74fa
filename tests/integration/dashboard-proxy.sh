#!/usr/bin/env bash
# dashboard-proxy.sh - `mkube dashboard` on a real cluster (VM under TCG, the
# bundle's kubectl), with a FAKE stand-in for the UI because no upstream UI can
# be built here (docs/dashboard.md): the test's own addon "dashboard" runs the
# bundle's busybox httpd serving one marker page. Everything else is real: the
# addon is enabled by the command, its deployment waited for, the proxy serves
# the API server's service proxy path on 127.0.0.1, and through the proxy:
# the pod list, a pod's logs, a followed log stream and an exec over a
# websocket upgrade (the bundle's kubectl against the proxy). --url prints
# exactly one line; the proxy listens on 127.0.0.1 only; SIGINT/SIGTERM end it
# with status 0 and leave no process or listening port behind; without --url
# the URL goes to the browser opener ($BROWSER: a FAKE opener that records it).
# needs a whole cluster: run with scripts/test.sh --e2e-all
# ctest-labels: e2e-dashboard
. "$(dirname "$0")/lifecycle-lib.sh"
require_artifacts
command -v curl >/dev/null || fail "curl is needed"

# ---- a data dir: the built image and bundle, the real addons plus the FAKE UI
REAL_DATADIR=$MKUBE_DATADIR
export MKUBE_DATADIR="$TMP/data"
mkdir -p "$MKUBE_DATADIR/addons"
for f in "$REAL_DATADIR"/*; do
    [ -f "$f" ] && ln -s "$f" "$MKUBE_DATADIR/"
done
cp -r "$REPO"/addons/* "$MKUBE_DATADIR/addons/"
[ ! -e "$MKUBE_DATADIR/addons/dashboard" ] ||
    fail "addons/dashboard ships now: test the real UI instead of the FAKE stand-in"
FAKE_NS=mkube-fake-dashboard
FAKE_MARK="FAKE dashboard stand-in for mkube tests (busybox httpd)"
mkdir -p "$MKUBE_DATADIR/addons/dashboard"
cat >"$MKUBE_DATADIR/addons/dashboard/addon.json" <<EOF
{
  "name": "dashboard",
  "description": "FAKE stand-in for a dashboard UI (tests/integration/dashboard-proxy.sh only)",
  "default": false,
  "images": ["docker.io/mkube/busybox:1.35.0"],
  "manifests": ["fake-ui.yaml"],
  "dashboard": {"namespace": "$FAKE_NS", "service": "fake-dashboard-ui", "port": "http"}
}
EOF
cat >"$MKUBE_DATADIR/addons/dashboard/fake-ui.yaml" <<EOF
apiVersion: v1
kind: Namespace
metadata:
  name: $FAKE_NS
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: fake-dashboard-ui
  namespace: $FAKE_NS
data:
  index.html: "<html><body><h1>$FAKE_MARK</h1></body></html>\n"
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: fake-dashboard-ui
  namespace: $FAKE_NS
spec:
  replicas: 1
  selector:
    matchLabels: {app: fake-dashboard-ui}
  template:
    metadata:
      labels: {app: fake-dashboard-ui}
    spec:
      containers:
        - name: httpd
          image: docker.io/mkube/busybox:1.35.0
          imagePullPolicy: Never
          command: ["httpd", "-f", "-p", "8080", "-h", "/www"]
          ports:
            - {name: http, containerPort: 8080}
          readinessProbe:
            httpGet: {path: /index.html, port: 8080}
            periodSeconds: 2
          volumeMounts:
            - {name: www, mountPath: /www}
      volumes:
        - name: www
          configMap: {name: fake-dashboard-ui}
---
apiVersion: v1
kind: Service
metadata:
  name: fake-dashboard-ui
  namespace: $FAKE_NS
spec:
  selector: {app: fake-dashboard-ui}
  ports:
    - {name: http, port: 80, targetPort: http}
EOF

# ---- the cluster and a workload whose logs we read
# a longer limit than start_args' 1200 s: on a loaded 2-core host provisioning
# alone took longer than that under TCG
note "mkube start ($(start_args) --wait-timeout=2400)"
# shellcheck disable=SC2046
mk $(start_args) --wait-timeout=2400 || fail "mkube start failed"
note "started"
kc create deployment hello --image=docker.io/mkube/busybox:1.35.0 -- \
    sh -c 'i=0; while true; do echo "hello-log-line $i"; i=$((i + 1)); sleep 1; done' >/dev/null ||
    fail "cannot create the hello deployment"
kc patch deployment hello --type=json -p \
    '[{"op":"add","path":"/spec/template/spec/containers/0/imagePullPolicy","value":"Never"}]' >/dev/null
wait_for 600 "the hello deployment" kc rollout status deployment/hello --timeout=10s
POD=$(kc get pods -l app=hello -o jsonpath='{.items[0].metadata.name}')
[ -n "$POD" ] || fail "no hello pod"
note "hello pod $POD runs"

# stop_dashboard PID SIG WHAT: signal it; it must end with status 0 within 30 s
stop_dashboard() {
    local pid=$1 sig=$2 what=$3 rc=0
    kill "-$sig" "$pid"
    for _ in $(seq 60); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.5
    done
    if kill -0 "$pid" 2>/dev/null; then
        kill -9 "$pid"
        fail "mkube dashboard ($what) still runs 30 s after SIG$sig"
    fi
    wait "$pid" || rc=$?
    [ "$rc" = 0 ] || fail "mkube dashboard ($what) exited $rc after SIG$sig"
}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
listeners() { ss -ltnH "sport = :$1" | awk '{print $4}'; }

# ---- mkube dashboard --url: one line on stdout, then it serves until a signal
PORT=$(free_port)
note "mkube dashboard --url --port $PORT"
t=$(date +%s)
"$MKUBE" -p "$PROFILE" -v 2 dashboard --url --port "$PORT" >"$TMP/url.out" 2>"$TMP/url.err" &
DPID=$!
end=$(($(date +%s) + 900))
until [ -s "$TMP/url.out" ]; do
    kill -0 "$DPID" 2>/dev/null || { cat "$TMP/url.err" >&2; fail "mkube dashboard exited early"; }
    [ "$(date +%s)" -lt "$end" ] || { cat "$TMP/url.err" >&2; fail "no URL after 900 s"; }
    sleep 1
done
sleep 1
note "URL after $(($(date +%s) - t)) s"
[ "$(wc -l <"$TMP/url.out")" = 1 ] || fail "--url printed $(wc -l <"$TMP/url.out") lines"
URL=$(cat "$TMP/url.out")
WANT="http://127.0.0.1:$PORT/api/v1/namespaces/$FAKE_NS/services/fake-dashboard-ui:http/proxy/"
[ "$URL" = "$WANT" ] || fail "URL is '$URL', want '$WANT'"
grep -q "Enabling the dashboard addon" "$TMP/url.err" || fail "the addon was not enabled by the command"
"$MKUBE" -p "$PROFILE" addons list | grep -E '^\| dashboard +\| [^|]+\| enabled ' >/dev/null ||
    fail "addons list does not show dashboard enabled"

# 127.0.0.1 only
[ "$(listeners "$PORT")" = "127.0.0.1:$PORT" ] || fail "listeners on $PORT: $(listeners "$PORT")"

# the UI's page through the service proxy
curl -fsS --max-time 60 "$URL" >"$TMP/ui.html" || fail "GET $URL failed"
grep -qF "$FAKE_MARK" "$TMP/ui.html" || fail "the UI page is not what the addon serves"
# the API: pods of kube-system, a pod's logs
API="http://127.0.0.1:$PORT"
curl -fsS --max-time 60 "$API/api/v1/namespaces/kube-system/pods" >"$TMP/pods.json" ||
    fail "GET the kube-system pods failed"
grep -q '"kind": *"PodList"' "$TMP/pods.json" || fail "no PodList"
grep -q '"name": *"kube-apiserver-' "$TMP/pods.json" || fail "the pod list lacks kube-apiserver"
curl -fsS --max-time 60 "$API/api/v1/namespaces/default/pods/$POD/log?tailLines=5" >"$TMP/log.txt" ||
    fail "GET the pod's logs failed"
grep -q '^hello-log-line [0-9]' "$TMP/log.txt" || fail "the logs lack hello-log-line: $(head -3 "$TMP/log.txt")"
# refused: another Host (DNS rebinding), a non-API path
code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Host: evil.example' "$API/api/v1/pods")
[ "$code" = 403 ] || fail "a foreign Host got $code, want 403"
code=$(curl -s -o /dev/null -w '%{http_code}' "$API/metrics")
[ "$code" = 404 ] || fail "/metrics got $code, want 404"

# the bundle's kubectl through the proxy: a followed log stream, an exec
cat >"$TMP/proxy-kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters: [{name: p, cluster: {server: "$API"}}]
users: [{name: anon, user: {}}]
contexts: [{name: p, context: {cluster: p, user: anon}}]
current-context: p
EOF
KP() { "$(kubectl_bin)" --kubeconfig "$TMP/proxy-kubeconfig" "$@"; }
timeout 6 "$(kubectl_bin)" --kubeconfig "$TMP/proxy-kubeconfig" logs -f --tail=1 "$POD" \
    >"$TMP/follow.txt" 2>&1 || true
n=$(grep -c '^hello-log-line' "$TMP/follow.txt" || true)
[ "$n" -ge 3 ] || fail "a followed log gave $n lines in 6 s: $(head -3 "$TMP/follow.txt")"
out=$(KP exec "$POD" -- sh -c 'echo exec-through-proxy $((6 * 7))' 2>&1) ||
    fail "kubectl exec through the proxy failed: $out"
[ "$out" = "exec-through-proxy 42" ] || fail "exec printed '$out'"
out=$(echo 'stdin-through-proxy' | KP exec -i "$POD" -- cat 2>&1) || fail "exec -i failed: $out"
[ "$out" = stdin-through-proxy ] || fail "exec -i printed '$out'"
grep -E "apiproxy: (GET|POST) /api/v1/namespaces/default/pods/$POD/exec.* -> 101 upgrade websocket" \
    "$TMP/url.err" >/dev/null || fail "the exec did not go through as a websocket upgrade"
note "pods, logs, follow and exec (websocket) through the proxy: ok"

# numbers: GET /version through the proxy and straight to the API server
SERVER=$(kc config view --minify -o jsonpath='{.clusters[0].cluster.server}')
tp=() td=()
for _ in $(seq 15); do
    tp+=("$(curl -s -o /dev/null -w '%{time_total}' "$API/version")")
    td+=("$(curl -s -o /dev/null -w '%{time_total}' --cacert "$MKUBE_HOME/certs/ca.crt" \
        --cert "$MKUBE_HOME/profiles/$PROFILE/client.crt" \
        --key "$MKUBE_HOME/profiles/$PROFILE/client.key" "$SERVER/version")")
done
median() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
note "GET /version, median of 15: $(median "${tp[@]}") s through the proxy," \
    "$(median "${td[@]}") s straight to $SERVER with the client cert (curl)"

# ---- Ctrl-C: exit 0, nothing left
stop_dashboard "$DPID" INT "--url"
[ ! -e "/proc/$DPID" ] || fail "mkube dashboard is still there"
[ -z "$(listeners "$PORT")" ] || fail "port $PORT still listens"
! curl -s --max-time 5 "$API/version" >/dev/null || fail "the proxy still answers"
grep -q "Stopping the dashboard proxy" "$TMP/url.err" || fail "no stop message"

# ---- without --url: the URL goes to the browser opener; SIGTERM ends it
cat >"$TMP/FAKE-browser" <<EOF
#!/bin/sh
# FAKE browser opener: records the URL it was asked to open
echo "\$@" >"$TMP/browser.args"
EOF
chmod +x "$TMP/FAKE-browser"
PORT2=$(free_port)
BROWSER="$TMP/FAKE-browser" "$MKUBE" -p "$PROFILE" dashboard --port "$PORT2" \
    >"$TMP/open.out" 2>"$TMP/open.err" &
DPID=$!
wait_for 300 "the browser opener" test -s "$TMP/browser.args"
[ "$(cat "$TMP/browser.args")" = "http://127.0.0.1:$PORT2/api/v1/namespaces/$FAKE_NS/services/fake-dashboard-ui:http/proxy/" ] ||
    fail "the opener got '$(cat "$TMP/browser.args")'"
[ ! -s "$TMP/open.out" ] || fail "stdout is not empty when a browser opened: $(cat "$TMP/open.out")"
curl -fsS --max-time 60 "$(cat "$TMP/browser.args")" | grep -qF "$FAKE_MARK" ||
    fail "the opened URL does not serve the UI"
stop_dashboard "$DPID" TERM "browser"
[ -z "$(listeners "$PORT2")" ] || fail "port $PORT2 still listens"

# ---- an opener that fails (no display): a warning and the URL on stdout
cat >"$TMP/FAKE-browser-fails" <<EOF
#!/bin/sh
# FAKE browser opener that cannot open anything
echo "no display to open \$1 on" >&2
exit 3
EOF
chmod +x "$TMP/FAKE-browser-fails"
PORT3=$(free_port)
BROWSER="$TMP/FAKE-browser-fails" "$MKUBE" -p "$PROFILE" dashboard --port "$PORT3" \
    >"$TMP/none.out" 2>"$TMP/none.err" &
DPID=$!
wait_for 300 "the URL without a browser" test -s "$TMP/none.out"
grep -q "cannot open a browser: .*exited with status 3: no display" "$TMP/none.err" ||
    fail "no 'cannot open a browser' warning: $(cat "$TMP/none.err")"
[ "$(cat "$TMP/none.out")" = "http://127.0.0.1:$PORT3/api/v1/namespaces/$FAKE_NS/services/fake-dashboard-ui:http/proxy/" ] ||
    fail "without a browser stdout is '$(cat "$TMP/none.out")'"
stop_dashboard "$DPID" INT "no browser"

note "PASS in $(($(date +%s) - T0)) s"
