package prodlike

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestExpand(t *testing.T) {
	vars := map[string]string{"DB_PASSWORD": "s3cret", "EMPTY": ""}
	lookup := func(n string) (string, bool) { v, ok := vars[n]; return v, ok }
	tests := []struct {
		name, in, want string
	}{
		{name: "a defined reference", in: "postgres://u:$(DB_PASSWORD)@h/db", want: "postgres://u:s3cret@h/db"},
		{name: "an unknown reference stays", in: "x$(NOPE)y", want: "x$(NOPE)y"},
		{name: "$$ escapes", in: "$$(DB_PASSWORD)", want: "$(DB_PASSWORD)"},
		{name: "a lone $ stays", in: "cost $5 and $", want: "cost $5 and $"},
		{name: "an unclosed reference stays", in: "a$(DB_PASSWORD", want: "a$(DB_PASSWORD"},
		{name: "an empty value", in: "[$(EMPTY)]", want: "[]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := expand(tt.in, lookup); got != tt.want {
				t.Errorf("expand(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestDNSRewrite(t *testing.T) {
	d := NewDNS()
	d.Add("booking.acube", 8101, "127.0.0.1:1001")
	d.Add("acube-pg-pooler-rw.acube-infra", 5432, "127.0.0.1:1002")
	d.Add("redis-ha-server-0.redis-ha.acube-infra", 26379, "127.0.0.1:1003")
	d.Add("redis-ha-server-0.redis-ha.acube-infra", 6379, "127.0.0.1:1004")
	d.Add("nats.acube-infra", 4222, "127.0.0.1:1005")
	tests := []struct {
		name, in, want, wantErr string
	}{
		{name: "a Service with its port", in: "http://booking.acube.svc:8101", want: "http://127.0.0.1:1001"},
		{name: "the long form", in: "http://booking.acube.svc.cluster.local:8101/x", want: "http://127.0.0.1:1001/x"},
		{name: "a URL with credentials", in: "postgres://u:p@acube-pg-pooler-rw.acube-infra.svc:5432/acube?sslmode=require",
			want: "postgres://u:p@127.0.0.1:1002/acube?sslmode=require"},
		{name: "a headless Service's pod by port", in: "redis://:pw@redis-ha-server-0.redis-ha.acube-infra.svc:26379/0",
			want: "redis://:pw@127.0.0.1:1003/0"},
		{name: "the only port of a name", in: "tls://nats.acube-infra.svc", want: "tls://127.0.0.1:1005"},
		{name: "no cluster name", in: "https://api.acube.example.org", want: "https://api.acube.example.org"},
		{name: "an unknown Service", in: "http://nobody.acube.svc:80", wantErr: "nobody.acube.svc:80"},
		{name: "a known name, another port", in: "http://booking.acube.svc:9999", wantErr: "booking.acube.svc:9999"},
		{name: "two ports and none written", in: "redis-ha-server-0.redis-ha.acube-infra.svc", wantErr: "has 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := d.Rewrite(tt.in)
			switch {
			case tt.wantErr != "":
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("Rewrite(%q) = %q, %v; want an error naming %q", tt.in, got, err, tt.wantErr)
				}
			case err != nil || got != tt.want:
				t.Errorf("Rewrite(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestLocalizer(t *testing.T) {
	d := NewDNS()
	d.Add("admin.acube", 8102, "127.0.0.1:2002")
	l := localizer{dns: d, ports: map[int]int{8101: 3001},
		mounts: map[string]string{"/etc/acube": "/local/cm", "/etc/acube/keys": "/local/keys", "/tmp": "/local/tmp"}}
	tests := []struct {
		in, want string
	}{
		{in: ":8101", want: "127.0.0.1:3001"},
		{in: "0.0.0.0:8101", want: "127.0.0.1:3001"},
		{in: ":9999", want: ":9999"},
		{in: "/etc/acube/ratelimits.yaml", want: "/local/cm/ratelimits.yaml"},
		{in: "/etc/acube/keys/signing.pem", want: "/local/keys/signing.pem"},
		{in: "/tmp/admin", want: "/local/tmp/admin"},
		{in: "/tmpfoo", want: "/tmpfoo"},
		{in: "http://admin.acube.svc:8102/api/admin/auth/jwks.json", want: "http://127.0.0.1:2002/api/admin/auth/jwks.json"},
		{in: "10.244.0.0/16", want: "10.244.0.0/16"},
	}
	for _, tt := range tests {
		got, err := l.value(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("value(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

// TestResolveEnv: envFrom, then env in order, references expanded against
// what was defined before, valueFrom read from ConfigMaps, Secrets and the
// pod, as the kubelet does.
func TestResolveEnv(t *testing.T) {
	m := &Manifests{ConfigMaps: []*corev1.ConfigMap{
		{Data: map[string]string{"LOG_LEVEL": "info", "NATS_URL": "tls://nats.acube-infra.svc:4222"}},
		{Data: map[string]string{"POD_CIDRS": "10.244.0.0/16"}},
	}}
	m.ConfigMaps[0].Name, m.ConfigMaps[1].Name = "acube-common-abc", "acube-cluster-def"
	sec := NewSecrets()
	sec.Set("acube-pg-booking-app", "password", "pw")
	c := corev1.Container{Name: "booking",
		EnvFrom: []corev1.EnvFromSource{{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "acube-common-abc"}}}},
		Env: []corev1.EnvVar{
			{Name: "EARLY", Value: "$(DB_PASSWORD)"},
			{Name: "DB_PASSWORD", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
				LocalObjectReference: corev1.LocalObjectReference{Name: "acube-pg-booking-app"}, Key: "password"}}},
			{Name: "DATABASE_URL", Value: "postgres://booking_app:$(DB_PASSWORD)@h/acube"},
			{Name: "TRUSTED", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{
				LocalObjectReference: corev1.LocalObjectReference{Name: "acube-cluster-def"}, Key: "POD_CIDRS"}}},
			{Name: "POD", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}},
			{Name: "LOG_LEVEL", Value: "debug"},
		}}
	env, err := resolveEnv(c, m, sec, podInfo{Name: "booking-1", Namespace: "acube"})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	var order []string
	for _, e := range env {
		got[e.Name] = e.Value
		order = append(order, e.Name)
	}
	want := map[string]string{
		"LOG_LEVEL": "debug", "NATS_URL": "tls://nats.acube-infra.svc:4222", "EARLY": "$(DB_PASSWORD)",
		"DB_PASSWORD": "pw", "DATABASE_URL": "postgres://booking_app:pw@h/acube", "TRUSTED": "10.244.0.0/16", "POD": "booking-1",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	if len(env) != len(want) {
		t.Errorf("env %v, want the %d variables of %v", order, len(want), want)
	}

	c.Env = append(c.Env, corev1.EnvVar{Name: "MISSING", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{
		LocalObjectReference: corev1.LocalObjectReference{Name: "acube-cluster-def"}, Key: "NOPE"}}})
	if _, err := resolveEnv(c, m, sec, podInfo{}); err == nil {
		t.Error("a reference to a missing ConfigMap key resolved")
	}
}

func TestSecretFile(t *testing.T) {
	ps := corev1.PodSpec{Volumes: []corev1.Volume{
		{Name: "nats", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
			{Secret: &corev1.SecretProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "acube-nats-booking"},
				Items: []corev1.KeyToPath{{Key: "nkey", Path: "nkey"}}}},
			{Secret: &corev1.SecretProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "acube-nats-ca"},
				Items: []corev1.KeyToPath{{Key: "ca.crt", Path: "ca.crt"}}}},
		}}}},
		{Name: "keys", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "acube-admin-signing-key"}}},
		{Name: "tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
	}}
	c := corev1.Container{Name: "x", VolumeMounts: []corev1.VolumeMount{
		{Name: "nats", MountPath: "/etc/acube/nats"}, {Name: "keys", MountPath: "/etc/acube/keys"}, {Name: "tmp", MountPath: "/tmp"}}}
	tests := []struct {
		file, secret, key string
		wantErr           bool
	}{
		{file: "/etc/acube/nats/nkey", secret: "acube-nats-booking", key: "nkey"},
		{file: "/etc/acube/nats/ca.crt", secret: "acube-nats-ca", key: "ca.crt"},
		{file: "/etc/acube/keys/signing.pem", secret: "acube-admin-signing-key", key: "signing.pem"},
		{file: "/etc/acube/nats/other", wantErr: true},
		{file: "/tmp/x", wantErr: true},
		{file: "/var/x", wantErr: true},
	}
	for _, tt := range tests {
		secret, key, err := secretFile(ps, c, tt.file)
		if (err != nil) != tt.wantErr || secret != tt.secret || key != tt.key {
			t.Errorf("secretFile(%s) = %q, %q, %v; want %q, %q, error %v", tt.file, secret, key, err, tt.secret, tt.key, tt.wantErr)
		}
	}
}

func TestMergeConfig(t *testing.T) {
	got, err := mergeConfig(map[string]any{"accounts": map[string]any{"ACUBE": map[string]any{
		"jetstream": "enabled",
		"users":     []any{map[string]any{"nkey": "<< $BOOKING_NKEY >>", "permissions": map[string]any{"publish": map[string]any{"allow": []any{"booking.>"}}}}},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"nkey": $BOOKING_NKEY`, `"booking.>"`, `"accounts": {`} {
		if !strings.Contains(got, want) {
			t.Errorf("merge config lacks %s:\n%s", want, got)
		}
	}
	if strings.HasPrefix(strings.TrimSpace(got), "{") {
		t.Errorf("merge config keeps the top level's braces:\n%s", got)
	}
}

func TestRoleSQL(t *testing.T) {
	sec := NewSecrets()
	yes := true
	stmts, err := roleSQL(PGRole{Name: "booking_app", Ensure: "present", Login: true, Inherit: &yes,
		InRoles: []string{"acube_booking_app"}, PasswordSecret: &struct {
			Name string `json:"name"`
		}{Name: "acube-pg-booking-app"}}, sec)
	if err != nil {
		t.Fatal(err)
	}
	pw, _ := sec.Get("acube-pg-booking-app", "password")
	user, _ := sec.Get("acube-pg-booking-app", "username")
	joined := strings.Join(stmts, "\n")
	for _, want := range []string{"LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE", "PASSWORD '" + pw + "'", `GRANT "acube_booking_app" TO "booking_app"`} {
		if !strings.Contains(joined, want) {
			t.Errorf("role SQL lacks %s:\n%s", want, joined)
		}
	}
	if user != "booking_app" || pw == "" {
		t.Errorf("Secret acube-pg-booking-app holds %q/%q, want the role and a password", user, pw)
	}
	stmts, _ = roleSQL(PGRole{Name: "old", Ensure: "absent"}, sec)
	if len(stmts) != 1 || !strings.HasPrefix(stmts[0], "DROP ROLE IF EXISTS") {
		t.Errorf("an absent role: %v", stmts)
	}
}
