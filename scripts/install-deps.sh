#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Install every Debian package chlb needs to build, test, bench and demo.
# Idempotent: installs only what is missing, and runs `apt-get update` only then.
set -euo pipefail

PKGS=(
	# build
	make gcc clang llvm pkg-config
	libbpf-dev libxdp-dev libelf-dev zlib1g-dev linux-libc-dev
	bpftool xdp-tools
	# libraries the controller and ring library use
	liburcu-dev libxxhash-dev libjson-c-dev libmnl-dev
	# the daemon: metrics endpoint, HTTP health checks (and etcd), systemd notify
	libmicrohttpd-dev libcurl4-openssl-dev libsystemd-dev
	# tests
	libcunit1-dev libasan8 libubsan1 libtsan2 util-linux
	iproute2 ethtool python3 curl socat nginx-light tcpdump strace
	prometheus systemd etcd-server etcd-client
)

missing=()
for p in "${PKGS[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing+=("$p")
	fi
done

if [ ${#missing[@]} -eq 0 ]; then
	exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
	echo "Error: missing packages (${missing[*]}); run this script as root" >&2
	exit 1
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# nginx-light starts a system-wide nginx on port 80, prometheus a server on 9090,
# etcd-server one on 2379; the tests run their own nginx and etcd instances and need
# only promtool.
if command -v systemctl >/dev/null 2>&1; then
	systemctl disable --now nginx prometheus prometheus-node-exporter etcd >/dev/null 2>&1 || true
fi
