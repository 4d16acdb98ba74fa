#!/usr/bin/env bash
# Bundle smoke test, no VM: run the bundle's etcd and kube-apiserver (taken
# out of their images) on 127.0.0.1 with throwaway certificates, then let the
# bundle's kubectl create a ConfigMap and read it back.
#
#   MKUBE_BUNDLE_DIR=<dir with the bundle> tests/integration/bundle-smoke.sh
set -euo pipefail
. "$(dirname "$0")/bundle-lib.sh"

require_bundle
command -v openssl >/dev/null || fail "test needs openssl"

T=$(mktemp -d /tmp/mkube-bundle-smoke.XXXXXX)
PIDS=()
cleanup() {
	local p
	set +e
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${PIDS[@]}"; do
		for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	rm -rf "$T"
}
trap cleanup EXIT
logs() {
	echo "--- etcd log (tail)" >&2; tail -n 20 "$T/etcd.log" >&2 || true
	echo "--- kube-apiserver log (tail)" >&2; tail -n 30 "$T/apiserver.log" >&2 || true
}

B=$T/b
unpack_bundle "$B"
image_rootfs "$B" images/etcd.tar "$T/etcd-root"
image_rootfs "$B" images/kube-apiserver.tar "$T/apiserver-root"
ETCD=$T/etcd-root/usr/local/bin/etcd
APISERVER=$T/apiserver-root/usr/local/bin/kube-apiserver
KUBECTL=$B/bin/kubectl
pass "unpacked bundle, etcd and kube-apiserver images"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
ETCD_CLIENT=$(free_port)
ETCD_PEER=$(free_port)
API_PORT=$(free_port)

# --- throwaway PKI
P=$T/pki
mkdir -p "$P"
ossl() { openssl "$@" >>"$T/openssl.log" 2>&1 || { cat "$T/openssl.log" >&2; fail "openssl $1 failed"; }; }
ossl req -x509 -newkey rsa:2048 -nodes -keyout "$P/ca.key" -out "$P/ca.crt" -days 1 -subj "/CN=mkube-smoke-ca"
ossl req -newkey rsa:2048 -nodes -keyout "$P/apiserver.key" -out "$P/apiserver.csr" -subj "/CN=kube-apiserver"
printf 'subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes\nextendedKeyUsage=serverAuth\n' >"$P/apiserver.ext"
ossl x509 -req -in "$P/apiserver.csr" -CA "$P/ca.crt" -CAkey "$P/ca.key" -CAcreateserial -days 1 \
	-extfile "$P/apiserver.ext" -out "$P/apiserver.crt"
ossl req -newkey rsa:2048 -nodes -keyout "$P/admin.key" -out "$P/admin.csr" -subj "/O=system:masters/CN=mkube-admin"
printf 'extendedKeyUsage=clientAuth\n' >"$P/admin.ext"
ossl x509 -req -in "$P/admin.csr" -CA "$P/ca.crt" -CAkey "$P/ca.key" -CAcreateserial -days 1 \
	-extfile "$P/admin.ext" -out "$P/admin.crt"
ossl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$P/sa.key"
ossl pkey -in "$P/sa.key" -pubout -out "$P/sa.pub"
pass "throwaway PKI (CA, serving cert, admin client cert, service-account key)"

# --- etcd
"$ETCD" --name smoke --data-dir "$T/etcd-data" \
	--listen-client-urls "http://127.0.0.1:$ETCD_CLIENT" --advertise-client-urls "http://127.0.0.1:$ETCD_CLIENT" \
	--listen-peer-urls "http://127.0.0.1:$ETCD_PEER" --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER" \
	--initial-cluster "smoke=http://127.0.0.1:$ETCD_PEER" --listen-metrics-urls= \
	>"$T/etcd.log" 2>&1 &
PIDS+=($!)
for i in $(seq 100); do
	"$T/etcd-root/usr/local/bin/etcdctl" --endpoints "127.0.0.1:$ETCD_CLIENT" endpoint health >/dev/null 2>&1 && break
	kill -0 "${PIDS[0]}" 2>/dev/null || { logs; fail "etcd exited"; }
	[ "$i" = 100 ] && { logs; fail "etcd not healthy after 20s"; }
	sleep 0.2
done
pass "etcd $("$ETCD" --version | head -n1 | awk '{print $3}') healthy on 127.0.0.1:$ETCD_CLIENT"

# --- kube-apiserver
"$APISERVER" --etcd-servers "http://127.0.0.1:$ETCD_CLIENT" \
	--bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "$API_PORT" \
	--cert-dir "$T/apiserver-certs" \
	--tls-cert-file "$P/apiserver.crt" --tls-private-key-file "$P/apiserver.key" \
	--client-ca-file "$P/ca.crt" \
	--service-account-key-file "$P/sa.pub" --service-account-signing-key-file "$P/sa.key" \
	--service-account-issuer https://kubernetes.default.svc.cluster.local \
	--service-cluster-ip-range 10.96.0.0/16 \
	--authorization-mode Node,RBAC --endpoint-reconciler-type none \
	>"$T/apiserver.log" 2>&1 &
PIDS+=($!)

KC=$T/kubeconfig
"$KUBECTL" config --kubeconfig "$KC" set-cluster smoke --server "https://127.0.0.1:$API_PORT" \
	--certificate-authority "$P/ca.crt" --embed-certs >/dev/null
"$KUBECTL" config --kubeconfig "$KC" set-credentials admin --client-certificate "$P/admin.crt" \
	--client-key "$P/admin.key" --embed-certs >/dev/null
"$KUBECTL" config --kubeconfig "$KC" set-context smoke --cluster smoke --user admin >/dev/null
"$KUBECTL" config --kubeconfig "$KC" use-context smoke >/dev/null
k() { "$KUBECTL" --kubeconfig "$KC" --request-timeout 10s "$@"; }

for i in $(seq 120); do
	[ "$(k get --raw /readyz 2>/dev/null)" = ok ] && break
	kill -0 "${PIDS[1]}" 2>/dev/null || { logs; fail "kube-apiserver exited"; }
	[ "$i" = 120 ] && { logs; fail "kube-apiserver not ready after 60s"; }
	sleep 0.5
done
SV=$(k version -o json | python3 -c 'import json,sys; print(json.load(sys.stdin)["serverVersion"]["gitVersion"])')
[ "$SV" = "$K8S_VERSION" ] || fail "server reports $SV, expected $K8S_VERSION"
pass "kube-apiserver $SV ready on https://127.0.0.1:$API_PORT"

# --- ConfigMap round trip
# The default namespace is made by a post-start hook; wait for it.
for i in $(seq 60); do
	k get namespace default >/dev/null 2>&1 && break
	[ "$i" = 60 ] && { logs; fail "namespace default never appeared"; }
	sleep 0.5
done
k create configmap mkube-smoke --from-literal=greeting=hello-from-mkube >/dev/null ||
	{ logs; fail "kubectl create configmap failed"; }
got=$(k get configmap mkube-smoke -o jsonpath='{.data.greeting}')
[ "$got" = hello-from-mkube ] || fail "read back '$got' from the ConfigMap"
pass "kubectl created ConfigMap mkube-smoke and read back greeting=$got"
k delete configmap mkube-smoke >/dev/null || fail "kubectl delete configmap failed"
pass "ConfigMap deleted"

echo "PASS bundle-smoke"
