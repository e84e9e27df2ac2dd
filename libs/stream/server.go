package stream

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/nats-io/nkeys"
)

// AccountName is the NATS account every identity belongs to; JetStream is
// enabled for it, so the streams live in it.
const AccountName = "ACUBE"

// ServerAccount is one account of the server's configuration.
type ServerAccount struct {
	// JetStream is "enabled".
	JetStream string `json:"jetstream"`
	// Users are the account's identities.
	Users []ServerUser `json:"users"`
}

// ServerUser is one NKey user of an account and what it may do.
type ServerUser struct {
	// NKey is the user's public key, or a reference to a variable that
	// holds it (see ServerAccounts).
	NKey        string      `json:"nkey"`
	Permissions Permissions `json:"permissions"`
}

// NKeyVar is the environment variable that holds service's public NKey
// for the server: BOOKING_NKEY. The committed configuration refers to the
// keys by these names and holds none.
func NKeyVar(service string) string {
	return strings.ToUpper(unsafeToken.ReplaceAllString(service, "_")) + "_NKEY"
}

// ServerAccounts is the server's accounts block: one account (AccountName)
// with JetStream and one user per identity in keys, with the permissions
// Identities derive. keys maps a service to the value of its user's nkey:
// a public key ("U..."), a variable reference ("$BOOKING_NKEY", read by
// the server from its environment) or the NATS chart's unquoted form of
// one ("<< $BOOKING_NKEY >>", deploy/k8s/infra/nats/values.yaml).
// Identities missing from keys get no user; a key for a service that is
// not an identity, or a literal that is not a user's public key, is an
// error.
func ServerAccounts(keys map[string]string) (map[string]ServerAccount, error) {
	all := Identities()
	for svc, key := range keys {
		if !slices.ContainsFunc(all, func(a Access) bool { return a.Service == svc }) {
			return nil, fmt.Errorf("nats accounts: %q is not an identity (%s)", svc, strings.Join(Services(), ", "))
		}
		if !isReference(key) && !nkeys.IsValidPublicUserKey(key) {
			return nil, fmt.Errorf("nats accounts: the key of %s is neither a user's public key nor a $VARIABLE", svc)
		}
	}
	acc := ServerAccount{JetStream: "enabled"}
	for _, a := range all {
		key, ok := keys[a.Service]
		if !ok {
			continue
		}
		acc.Users = append(acc.Users, ServerUser{NKey: key, Permissions: a.Permissions(all)})
	}
	return map[string]ServerAccount{AccountName: acc}, nil
}

func isReference(key string) bool {
	return strings.HasPrefix(key, "$") || (strings.HasPrefix(key, "<<") && strings.HasSuffix(key, ">>"))
}

// ServerConfig renders ServerAccounts as NATS server configuration text,
// "accounts: {...}", to include in or append to a server's configuration
// (the prodlike cluster, tests). A "$VARIABLE" key is written unquoted, so
// the server reads it from its environment (or a variable defined earlier
// in the file).
func ServerConfig(keys map[string]string) (string, error) {
	accounts, err := ServerAccounts(keys)
	if err != nil {
		return "", err
	}
	// Not HTML-escaped: the server's parser knows no \u escapes (">").
	var text strings.Builder
	enc := json.NewEncoder(&text)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(accounts); err != nil {
		return "", fmt.Errorf("render nats accounts: %w", err)
	}
	out := strings.TrimSuffix(text.String(), "\n")
	for _, key := range keys {
		if strings.HasPrefix(key, "$") {
			out = strings.ReplaceAll(out, `"nkey": `+strconv.Quote(key), `"nkey": `+key)
		}
	}
	return "accounts: " + out + "\n", nil
}

// NKey is a user's NKey pair. The service holds the seed (a file named
// by NATS_NKEY_FILE, from a Secret); the server's configuration names the
// public key. `nk -gen user -pubout` makes the same.
type NKey struct {
	Seed   []byte
	Public string
}

// NewNKey generates a user NKey pair.
func NewNKey() (NKey, error) {
	kp, err := nkeys.CreateUser()
	if err != nil {
		return NKey{}, fmt.Errorf("generate nkey: %w", err)
	}
	seed, err := kp.Seed()
	if err != nil {
		return NKey{}, fmt.Errorf("generate nkey: %w", err)
	}
	pub, err := kp.PublicKey()
	if err != nil {
		return NKey{}, fmt.Errorf("generate nkey: %w", err)
	}
	return NKey{Seed: seed, Public: pub}, nil
}

// WriteSeed writes the seed to path, readable by its owner only, as
// NATS_NKEY_FILE expects it.
func (k NKey) WriteSeed(path string) error {
	if err := os.WriteFile(path, append(slices.Clone(k.Seed), '\n'), 0o600); err != nil {
		return fmt.Errorf("write nkey seed: %w", err)
	}
	return nil
}
