package stream

import "time"

// The platform's streams (DESIGN §4). Each is declared by its owner at
// start; AUDIT is also declared by every service that publishes audit
// events, with the same spec, so no publisher's outbox waits for another
// service to start. Replicas is 1 locally and 3 on the production cluster.

// Booking captures booking.>, owned by the booking service.
func Booking(replicas int) Spec {
	return Spec{Name: "BOOKING", Subjects: []string{"booking.>"}, MaxAge: 7 * 24 * time.Hour, MaxBytes: 4 << 30, Replicas: replicas}
}

// Admin captures admin.>, owned by the admin service.
func Admin(replicas int) Spec {
	return Spec{Name: "ADMIN", Subjects: []string{"admin.>"}, MaxAge: 7 * 24 * time.Hour, MaxBytes: 1 << 30, Replicas: replicas}
}

// Audit captures audit.>: every admin action in every service. It is kept
// long so the exporter can rebuild its projection by replaying it.
func Audit(replicas int) Spec {
	return Spec{Name: "AUDIT", Subjects: []string{"audit.>"}, MaxAge: 365 * 24 * time.Hour, MaxBytes: 8 << 30, Replicas: replicas}
}

// Exporter captures exporter.>, owned by the exporter service.
func Exporter(replicas int) Spec {
	return Spec{Name: "EXPORTER", Subjects: []string{"exporter.>"}, MaxAge: 7 * 24 * time.Hour, MaxBytes: 1 << 30, Replicas: replicas}
}

// Mailer captures mailer.>, owned by the mailer service.
func Mailer(replicas int) Spec {
	return Spec{Name: "MAILER", Subjects: []string{"mailer.>"}, MaxAge: 7 * 24 * time.Hour, MaxBytes: 1 << 30, Replicas: replicas}
}

// DeadLetter captures deadletter.>: the messages every consumer of every
// service gave up on, for a person to list, replay or discard (the admin
// service). They wait for that person, so they are kept long, and with the
// same replicas as the streams they came from.
func DeadLetter(replicas int) Spec {
	return Spec{Name: "DEADLETTER", Subjects: []string{"deadletter.>"}, MaxAge: 30 * 24 * time.Hour, MaxBytes: 1 << 30, Replicas: replicas}
}
