#!/usr/bin/env bash
# Make a cluster CA and one certificate per node for Conclave's mutual TLS (cluster.tls).
# Run it on a trusted machine, then copy to each node only ca.pem, NODE.pem and NODE-key.pem;
# ca-key.pem stays with you (it signs new nodes: --add).
set -euo pipefail

usage() {
  cat <<'EOF'
Usage: tls-bootstrap.sh [--force | --add] [--rsa] [--days N] OUT_DIR NODE...

Make a cluster CA and a certificate per node for Conclave's mutual TLS, in OUT_DIR:

  ca.pem, ca-key.pem          the cluster CA (the key only signs; keep it off the nodes)
  NODE.pem, NODE-key.pem      one node's certificate and key, for cluster.tls:
                                tls: { ca: ca.pem, cert: NODE.pem, key: NODE-key.pem }

Each node certificate is valid as a TLS server and client (nodes are both), and names
the node in its subjectAltName: DNS:NODE always, and the addresses given with it.

NODE is a node name as in cluster.electors, optionally with the addresses other nodes
dial it at, as IP addresses or DNS names, comma-separated:
  web1    web1=10.0.0.1    web1:10.0.0.1    web1=10.0.0.1,web1.example.com

Prefix it with ROLES/ (comma-separated: elector, member, operator, reader) to name the
holder's roles in URI SANs conclave://ROLE/NAME (docs/security.md). Electors with
cluster.auth take a certificate's identity over any token:
  elector/e1=10.0.0.1    elector,member/web1=10.0.0.1    member/app1    operator/alice
An operator or reader certificate (for the CLI) is valid as a TLS client only.

Options:
  --force    replace an existing CA (and node files) in OUT_DIR; every node then needs
             its new certificate, since old ones no longer chain to the CA
  --add      sign the given nodes with the CA already in OUT_DIR (a new elector, an
             admin's client certificate); refuses to replace existing node files
  --rsa      RSA 2048 keys instead of EC P-256
  --days N   validity of node certificates in days (default 825; the CA: 3650)
  -h, --help this text

Key files are written with mode 600. Exit status: 0 done, 1 failed or refused, 2 bad usage.
EOF
}

bad_usage() {
  echo "tls-bootstrap.sh: $1" >&2
  echo "Run tls-bootstrap.sh --help for usage." >&2
  exit 2
}

die() {
  echo "tls-bootstrap.sh: $1" >&2
  exit 1
}

force=0
add=0
key_type=ec
days=825
ca_days=3650
while [ $# -gt 0 ]; do
  case "$1" in
    -h | --help)
      usage
      exit 0
      ;;
    --force) force=1 ;;
    --add) add=1 ;;
    --rsa) key_type=rsa ;;
    --days)
      [ $# -ge 2 ] || bad_usage "--days needs a number of days"
      days=$2
      shift
      ;;
    --days=*) days=${1#--days=} ;;
    --) shift && break ;;
    -*) bad_usage "unknown option $1" ;;
    *) break ;;
  esac
  shift
done
[ $# -ge 2 ] || bad_usage "give OUT_DIR and at least one NODE"
[ "$force" -eq 1 ] && [ "$add" -eq 1 ] && bad_usage "--force and --add do not go together"
[[ "$days" =~ ^[1-9][0-9]{0,4}$ ]] || bad_usage "--days must be a whole number of days, got '$days'"

out=$1
shift

# Parse every NODE argument before touching any file.
names=()
sans=()
usages=()
is_ip() { [[ "$1" =~ ^[0-9]{1,3}(\.[0-9]{1,3}){3}$ || "$1" == *:* ]]; }
for arg in "$@"; do
  roles=""
  spec=$arg
  if [[ "$arg" == */* ]]; then
    roles=${arg%%/*} arg=${arg#*/}
    [ -n "$roles" ] || bad_usage "empty roles in '$spec'"
    # `read -a` would drop a trailing empty field: refuse any empty role here.
    [[ "$roles" != ,* && "$roles" != *, && "$roles" != *,,* ]] || bad_usage "empty role in '$spec'"
    IFS=, read -r -a role_list <<<"$roles"
    for r in "${role_list[@]}"; do
      case "$r" in
        elector | member | operator | reader) ;;
        *) bad_usage "'$r' in '$spec' is not a role (elector, member, operator, reader)" ;;
      esac
    done
  fi
  if [[ "$arg" == *=* ]]; then
    name=${arg%%=*} addrs=${arg#*=}
  elif [[ "$arg" == *:* ]]; then
    name=${arg%%:*} addrs=${arg#*:}
  else
    name=$arg addrs=""
  fi
  [[ "$name" =~ ^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$ ]] ||
    bad_usage "'$name' is not a node name (letters, digits, '.', '_', '-'; starting with a letter or digit)"
  [ "$name" != ca ] || bad_usage "a node may not be named 'ca' (its files would be the CA's)"
  for seen in "${names[@]}"; do
    [ "$seen" != "$name" ] || bad_usage "node '$name' is given twice"
  done
  san="DNS:$name"
  if [ -n "$addrs" ]; then
    IFS=, read -r -a list <<<"$addrs"
    for a in "${list[@]}"; do
      [ -n "$a" ] || bad_usage "empty address in '$arg'"
      if is_ip "$a"; then
        san="$san,IP:$a"
      elif [[ "$a" =~ ^[A-Za-z0-9_]([A-Za-z0-9_.-]*[A-Za-z0-9_])?$ ]]; then
        san="$san,DNS:$a"
      else
        bad_usage "'$a' in '$arg' is neither an IP address nor a DNS name"
      fi
    done
  fi
  usage=serverAuth,clientAuth
  if [ -n "$roles" ]; then
    # A node (elector or member) also serves; an operator's or reader's key only calls.
    [[ ",$roles," == *,elector,* || ",$roles," == *,member,* ]] || usage=clientAuth
    for r in "${role_list[@]}"; do san="$san,URI:conclave://$r/$name"; done
  fi
  names+=("$name")
  sans+=("$san")
  usages+=("$usage")
done

command -v openssl >/dev/null 2>&1 || die "openssl is not installed"

# Keys must never be readable by others, not even between creating and chmod.
umask 077
ca=$out/ca.pem
ca_key=$out/ca-key.pem

if [ "$add" -eq 1 ]; then
  if [ ! -f "$ca" ] || [ ! -f "$ca_key" ]; then
    die "--add needs an existing CA: $ca and $ca_key"
  fi
  for name in "${names[@]}"; do
    for f in "$out/$name.pem" "$out/$name-key.pem"; do
      [ ! -e "$f" ] || die "$f exists; refusing to replace it (remove it first to issue a new one)"
    done
  done
elif [ -e "$ca" ] || [ -e "$ca_key" ]; then
  [ "$force" -eq 1 ] ||
    die "$out already holds a CA (ca.pem / ca-key.pem); refusing to replace it, since every node's certificate chains to it. Use --add to sign more nodes with it, or --force to make a new CA."
fi
mkdir -p "$out"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

newkey() {
  if [ "$key_type" = rsa ]; then
    printf '%s\n' -newkey rsa:2048
  else
    printf '%s\n' -newkey ec -pkeyopt ec_paramgen_curve:prime256v1
  fi
}
mapfile -t newkey_args < <(newkey)

# openssl prints progress to stderr; keep it for failures only.
ssl() {
  if ! openssl "$@" 2>"$work/err"; then
    cat "$work/err" >&2
    die "openssl $1 failed"
  fi
}

if [ "$add" -eq 0 ]; then
  ssl req -x509 "${newkey_args[@]}" -nodes -sha256 -days "$ca_days" \
    -keyout "$work/ca-key.pem" -out "$work/ca.pem" \
    -subj "/CN=Conclave cluster CA" \
    -addext "basicConstraints=critical,CA:TRUE,pathlen:0" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -addext "subjectKeyIdentifier=hash"
  mv -f "$work/ca-key.pem" "$ca_key"
  mv -f "$work/ca.pem" "$ca"
  chmod 600 "$ca_key"
  chmod 644 "$ca"
  echo "CA:   $ca (key: $ca_key)"
fi

for i in "${!names[@]}"; do
  name=${names[$i]}
  san=${sans[$i]}
  cat >"$work/$name.ext" <<EOF
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=${usages[$i]}
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid
subjectAltName=$san
EOF
  ssl req -new "${newkey_args[@]}" -nodes -sha256 \
    -keyout "$work/$name-key.pem" -out "$work/$name.csr" -subj "/CN=$name"
  ssl x509 -req -sha256 -in "$work/$name.csr" -CA "$ca" -CAkey "$ca_key" \
    -set_serial "0x$(openssl rand -hex 16)" -days "$days" \
    -extfile "$work/$name.ext" -out "$work/$name.pem"
  mv -f "$work/$name-key.pem" "$out/$name-key.pem"
  mv -f "$work/$name.pem" "$out/$name.pem"
  chmod 600 "$out/$name-key.pem"
  chmod 644 "$out/$name.pem"
  echo "node: $out/$name.pem (key: $out/$name-key.pem; $san)"
done

if [ "$force" -eq 1 ]; then
  # Certificates of nodes not named this time were signed by the replaced CA.
  for f in "$out"/*.pem; do
    base=${f##*/}
    base=${base%.pem}
    if [ ! -e "$f" ] || [ "$base" = ca ] || [ "${base%-key}" != "$base" ]; then continue; fi
    stale=1
    for name in "${names[@]}"; do [ "$name" != "$base" ] || stale=0; done
    [ "$stale" -eq 0 ] || echo "warning: $f was signed by the old CA; issue it again with --add" >&2
  done
fi
