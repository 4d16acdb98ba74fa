#!/usr/bin/env bash
# walkthrough-e2e.sh - the developer loop of issue 7, for real: a VM under TCG,
# the host's docker CLI talking to dockerd in the VM, the bundle's kubectl.
#
#   eval $(mkube docker-env) -> docker version/info show the guest's daemon ->
#   docker build hello:v1 (FROM scratch + Debian's static busybox httpd) ->
#   deployment (pull policy Never) -> NodePort -> mkube service hello --url ->
#   curl "Hello World v1" -> hello:v2 + set image -> v2 -> rollout undo -> v1 ->
#   scale 2 -> delete a pod, the URL keeps answering -> a Job, a CronJob and a
#   DaemonSet reach their states -> a PVC bound by the default StorageClass ->
#   metrics-server (when the bundle has it): kubectl top node -> mkube stop:
#   docker-env refuses -> mkube start -> the same URL answers, the PVC kept its
#   data -> mkube docker-env --unset gives the shell back its DOCKER_HOST.
#
# Knob for development only: MKUBE_WALKTHROUGH_ENABLE_ADDONS=1 enables the
# default addons by hand when `mkube start` did not apply them.
# MKUBE_E2E_WAIT_TIMEOUT (seconds, default 2400) bounds each start's steps:
# on a busy 2-core host under TCG, loading the bundle's images alone took
# more than the lifecycle test's 1200 s.
# needs a whole cluster: stage 3 of scripts/test.sh (skip with --no-e2e)
# ctest-labels: e2e
. "$(dirname "$0")/lifecycle-lib.sh"
require_artifacts
# the qemu driver unless told otherwise (lifecycle-e2e.sh takes the automatic
# choice, libvirt where libvirtd runs): the two drivers are both covered
DRIVER="${MKUBE_E2E_DRIVER:-qemu}"
E2E_WAIT_TIMEOUT="${MKUBE_E2E_WAIT_TIMEOUT:-2400}"

command -v docker >/dev/null || fail "the docker CLI is not on PATH"
command -v curl >/dev/null || fail "curl is not on PATH"
BUSYBOX=""
for b in /bin/busybox /usr/bin/busybox; do
    # ldd exits 1 on a static binary: keep its words, not its status
    if [ -x "$b" ] && [[ "$(LC_ALL=C ldd "$b" 2>&1 || true)" == *"not a dynamic executable"* ]]; then
        BUSYBOX=$b
        break
    fi
done
[ -n "$BUSYBOX" ] || fail "no static busybox (apt-get install busybox-static)"
# the host CLI has no buildx plugin: the classic builder works with any dockerd
export DOCKER_BUILDKIT=0

. "$(dirname "$0")/lib/timing.sh" # median_ms

# curl URL until its body contains WANT (SECONDS at most)
expect_body() {
    local url=$1 want=$2 limit=$3 body=""
    local end=$(($(date +%s) + limit))
    while :; do
        body=$(curl -fsS --max-time 10 "$url" 2>/dev/null || true)
        grep -q "$want" <<<"$body" && return 0
        [ "$(date +%s)" -lt "$end" ] || fail "$url did not answer \"$want\" in ${limit}s (last: ${body:-nothing})"
        sleep 3
    done
}

note "mkube start ($(start_args))"
t=$(date +%s)
# shellcheck disable=SC2046
mk $(start_args) || fail "mkube start failed"
note "started in $(($(date +%s) - t)) s"
KUBECTL=$(kubectl_bin)
kc get nodes || fail "kubectl get nodes"

# ---- docker-env ----
export DOCKER_HOST=tcp://127.0.0.1:9 # the user's own setting, to be given back at the end
eval $(mk docker-env) || fail "mkube docker-env failed"
[ "$MKUBE_ACTIVE_DOCKERD" = "$PROFILE" ] || fail "MKUBE_ACTIVE_DOCKERD is '${MKUBE_ACTIVE_DOCKERD:-}'"
[ "${MKUBE_EXISTING_DOCKER_HOST:-}" = tcp://127.0.0.1:9 ] || fail "the previous DOCKER_HOST was not kept"
[[ "${DOCKER_HOST:-}" == tcp://127.0.0.1:* ]] || fail "DOCKER_HOST is $DOCKER_HOST"
docker version || fail "docker version cannot reach dockerd in the VM"
[ "$(docker info --format '{{.Name}}')" = "$PROFILE" ] || fail "docker info does not name the VM"
de_ms=$(median_ms "$MKUBE" -p "$PROFILE" docker-env)
st_ms=$(median_ms "$MKUBE" -p "$PROFILE" status)
note "median of 31 runs: docker-env ${de_ms} ms, status ${st_ms} ms"
awk -v m="$de_ms" 'BEGIN { exit !(m < 100) }' || fail "docker-env takes ${de_ms} ms"

# ---- images built in the VM ----
ctx="$TMP/hello"
mkdir -p "$ctx/www"
cp "$BUSYBOX" "$ctx/busybox"
cat >"$ctx/Dockerfile" <<'EOF'
FROM scratch
COPY busybox /bin/busybox
COPY www /www
EXPOSE 80
ENTRYPOINT ["/bin/busybox", "httpd", "-f", "-p", "80", "-h", "/www"]
EOF
build() { # TAG TEXT
    echo "$2" >"$ctx/www/index.html"
    docker build -q -t "$1" "$ctx" || fail "docker build $1"
}
build hello:v1 "Hello World v1"
build hello:v2 "Hello World v2"
docker image inspect hello:v1 >/dev/null || fail "hello:v1 is not in the VM's dockerd"

# the book's chapter 4 workloads, started now and checked later
kc create job once --image=hello:v1 -- /bin/busybox sh -c 'echo job done' || fail "create job"
kc create cronjob tick --image=hello:v1 --schedule='*/1 * * * *' -- /bin/busybox echo tick ||
    fail "create cronjob"
kc apply -f - <<'EOF' || fail "create daemonset"
apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: every-node
spec:
  selector:
    matchLabels: {app: every-node}
  template:
    metadata:
      labels: {app: every-node}
    spec:
      containers:
        - name: c
          image: hello:v1
          imagePullPolicy: Never
EOF

# ---- deployment, service, URL ----
kc create deployment hello --image=hello:v1 || fail "create deployment"
kc patch deployment hello --type=json \
    -p '[{"op":"add","path":"/spec/template/spec/containers/0/imagePullPolicy","value":"Never"}]' ||
    fail "set the pull policy to Never"
kc rollout status deployment/hello --timeout=600s || fail "hello:v1 did not roll out"
kc expose deployment hello --port=80 --type=NodePort || fail "expose"
URL=$(mk service hello --url) || fail "mkube service hello --url"
[ "$(wc -l <<<"$URL")" = 1 ] || fail "one URL expected, got: $URL"
[[ "$URL" == http://127.0.0.1:* ]] || fail "URL is $URL"
note "service URL $URL"
expect_body "$URL" "Hello World v1" 120
mk service list | tee "$TMP/list"
grep -E "\| default +\| hello +\| 80 +\| $URL" "$TMP/list" >/dev/null || fail "service list lacks hello's URL"

note "roll forward to v2, back to v1"
kc set image deployment/hello hello=hello:v2 || fail "set image"
kc rollout status deployment/hello --timeout=600s || fail "v2 did not roll out"
expect_body "$URL" "Hello World v2" 120
kc rollout undo deployment/hello || fail "rollout undo"
kc rollout status deployment/hello --timeout=600s || fail "the undo did not roll out"
expect_body "$URL" "Hello World v1" 120

note "scale to 2, delete a pod: Kubernetes heals it, the URL keeps answering"
kc scale deployment/hello --replicas=2 || fail "scale"
kc rollout status deployment/hello --timeout=600s || fail "scale to 2"
victim=$(kc get pods -l app=hello -o jsonpath='{.items[0].metadata.name}')
kc delete pod "$victim" --wait=false || fail "delete pod"
for i in $(seq 10); do
    curl -fsS --max-time 10 --retry 3 --retry-connrefused "$URL" | grep -q "Hello World v1" ||
        fail "the URL stopped answering while $victim was replaced (try $i)"
    sleep 1
done
wait_for 600 "2 ready hello pods again" sh -c \
    "[ \"\$('$KUBECTL' --context '$PROFILE' get deployment hello -o jsonpath='{.status.readyReplicas}')\" = 2 ]"
# the victim terminates in its own time: busybox httpd is PID 1 and ignores
# SIGTERM, so it goes when the 30 s grace period ends
wait_for 300 "$victim to be gone" sh -c "! '$KUBECTL' --context '$PROFILE' get pod '$victim'"

# ---- storage ----
if ! kc get storageclass standard >/dev/null 2>&1 && [ "${MKUBE_WALKTHROUGH_ENABLE_ADDONS:-}" = 1 ]; then
    note "WARNING: start did not apply the default addons; enabling them by hand"
    mk addons enable storage-provisioner || fail "enable storage-provisioner"
    mk addons enable default-storageclass || fail "enable default-storageclass"
fi
mk addons list || fail "addons list"
mk addons list -o json | grep -q '"storage-provisioner":{[^}]*"Status":"enabled"' ||
    fail "storage-provisioner is not enabled"
[ "$(kc get storageclass standard -o jsonpath='{.metadata.annotations.storageclass\.kubernetes\.io/is-default-class}')" = true ] ||
    fail "no default StorageClass 'standard' after start"
TOKEN="kept-$$-$(date +%s)"
kc apply -f - <<'EOF' || fail "create the PVC and its pod"
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: data
spec:
  accessModes: [ReadWriteOnce]
  resources:
    requests:
      storage: 64Mi
---
apiVersion: v1
kind: Pod
metadata:
  name: holder
spec:
  containers:
    - name: c
      image: hello:v1
      imagePullPolicy: Never
      command: ["/bin/busybox", "sleep", "1000000"]
      volumeMounts:
        - {name: d, mountPath: /data}
  volumes:
    - name: d
      persistentVolumeClaim:
        claimName: data
EOF
kc wait --for=condition=Ready pod/holder --timeout=600s || fail "the PVC's pod did not start"
[ "$(kc get pvc data -o jsonpath='{.status.phase}')" = Bound ] || fail "the PVC is not Bound"
[ "$(kc get pvc data -o jsonpath='{.spec.storageClassName}')" = standard ] ||
    fail "the PVC did not get the default StorageClass"
kc exec holder -- /bin/busybox sh -c "echo $TOKEN > /data/token" || fail "write to the volume"

# ---- the chapter 4 workloads ----
kc wait --for=condition=complete job/once --timeout=600s || fail "the Job did not complete"
[ "$(kc logs job/once)" = "job done" ] || fail "the Job's log is not 'job done'"
wait_for 600 "the CronJob to run a job to completion" sh -c \
    "[ -n \"\$('$KUBECTL' --context '$PROFILE' get cronjob tick -o jsonpath='{.status.lastSuccessfulTime}')\" ]"
kc rollout status daemonset/every-node --timeout=600s || fail "the DaemonSet did not roll out"
[ "$(kc get ds every-node -o jsonpath='{.status.numberReady}/{.status.desiredNumberScheduled}')" = 1/1 ] ||
    fail "the DaemonSet is not ready on the node"
kc delete cronjob tick # keep the restart quiet

# ---- metrics-server, when the bundle has its image ----
if mk addons enable metrics-server 2>"$TMP/ms.err"; then
    wait_for 900 "kubectl top node" "$KUBECTL" --context "$PROFILE" top node
    kc top node
else
    grep -q "unavailable" "$TMP/ms.err" || fail "enable metrics-server: $(cat "$TMP/ms.err")"
    note "metrics-server is unavailable in this bundle: $(cat "$TMP/ms.err")"
fi

# ---- stop / start ----
note "mkube stop"
mk stop || fail "mkube stop"
rc=0
mk docker-env >/dev/null 2>"$TMP/de.err" || rc=$?
[ "$rc" = 82 ] && grep -q "not running" "$TMP/de.err" ||
    fail "docker-env on a stopped cluster: exit $rc, $(cat "$TMP/de.err")"
note "mkube start (restart)"
t=$(date +%s)
# shellcheck disable=SC2046
mk $(start_args) || fail "restart failed"
note "restarted in $(($(date +%s) - t)) s"
expect_body "$URL" "Hello World v1" 600
[ "$(mk service hello --url)" = "$URL" ] || fail "the service URL changed across stop/start"
kc wait --for=condition=Ready pod/holder --timeout=600s || fail "the PVC's pod did not come back"
[ "$(kc exec holder -- /bin/busybox cat /data/token)" = "$TOKEN" ] ||
    fail "the volume lost its data across stop/start"
docker image inspect hello:v2 >/dev/null || fail "hello:v2 is gone after the restart"

# ---- give the shell back ----
eval $(mk docker-env --unset) || fail "docker-env --unset"
[ "$DOCKER_HOST" = tcp://127.0.0.1:9 ] || fail "DOCKER_HOST was not restored: ${DOCKER_HOST:-unset}"
[ -z "${MKUBE_ACTIVE_DOCKERD:-}" ] && [ -z "${DOCKER_CERT_PATH:-}" ] && [ -z "${DOCKER_TLS_VERIFY:-}" ] &&
    [ -z "${MKUBE_EXISTING_DOCKER_HOST:-}" ] || fail "docker-env --unset left variables behind"
note "PASS (docker-env ${de_ms} ms, status ${st_ms} ms, walkthrough $(($(date +%s) - T0)) s)"
