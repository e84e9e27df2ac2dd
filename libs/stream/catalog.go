package stream

import "time"

// The platform's streams (DESIGN §4). Each has one owner, the service that
// declares it in full (Ensure) and may widen it; a service that publishes
// to a stream it does not own declares it create-only (Spec.IfMissing), so
// its outbox need not wait for the owner to start and the two never undo
// each other's declaration. Replicas is 1 locally and 3 on the production
// cluster.
//
// Sizes: JetStream reserves each stream's MaxBytes on every node that holds
// a replica of it, and refuses a stream that does not fit the node's
// max_file_store (err 10047). On the three-node R3 cluster every node holds
// every stream, so the sum of the catalog's MaxBytes must fit the
// max_file_store set in deploy/k8s/infra/nats/values.yaml with room to
// spare; TestCatalogFitsFileStore checks it. Raising a stream's MaxBytes
// means checking that sum; lowering one is refused on a running cluster
// until it is applied on purpose (Spec.AllowShrink or nats stream edit).

// Catalog lists every stream of the platform, for the storage check and
// for tools that declare them all.
func Catalog(replicas int) []Spec {
	return []Spec{Booking(replicas), Admin(replicas), Audit(replicas), Exporter(replicas), DeadLetter(replicas)}
}

// Booking captures booking.>, owned by the booking service.
func Booking(replicas int) Spec {
	return Spec{Name: "BOOKING", Subjects: []string{"booking.>"}, MaxAge: 7 * 24 * time.Hour, MaxBytes: 4 << 30, Replicas: replicas}
}

// Admin captures admin.>, owned by the admin service.
func Admin(replicas int) Spec {
	return Spec{Name: "ADMIN", Subjects: []string{"admin.>"}, MaxAge: 7 * 24 * time.Hour, MaxBytes: 1 << 30, Replicas: replicas}
}

// Audit captures audit.>: every admin action in every service. It is kept
// long so the exporter can rebuild its projection by replaying it. The
// admin service owns it; booking and the exporter publish to it and
// declare it with IfMissing.
func Audit(replicas int) Spec {
	return Spec{Name: "AUDIT", Subjects: []string{"audit.>"}, MaxAge: 365 * 24 * time.Hour, MaxBytes: 6 << 30, Replicas: replicas}
}

// Exporter captures exporter.>, owned by the exporter service.
func Exporter(replicas int) Spec {
	return Spec{Name: "EXPORTER", Subjects: []string{"exporter.>"}, MaxAge: 7 * 24 * time.Hour, MaxBytes: 1 << 30, Replicas: replicas}
}

// DeadLetter captures deadletter.>: the messages every consumer of every
// service gave up on, for a person to list, replay or discard (the admin
// service, its owner). They wait for that person, so they are kept long,
// and with the same replicas as the streams they came from.
func DeadLetter(replicas int) Spec {
	return Spec{Name: "DEADLETTER", Subjects: []string{"deadletter.>"}, MaxAge: 30 * 24 * time.Hour, MaxBytes: 1 << 30, Replicas: replicas}
}

// IfMissing is s declared create-only (Spec.CreateOnly), as a publisher
// that does not own the stream declares it.
func (s Spec) IfMissing() Spec {
	s.CreateOnly = true
	return s
}
