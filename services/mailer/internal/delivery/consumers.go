package delivery

import (
	"github.com/acube/platform/libs/consume"
	"github.com/acube/platform/libs/events"
)

// Streams the mailer reads; each is declared by the service that owns it,
// and the consumers wait until it exists.
const (
	StreamBooking  = "BOOKING"
	StreamAdmin    = "ADMIN"
	StreamExporter = "EXPORTER"
)

// Consumers returns one consumer per stream, filtered to the subjects that
// send email. The caller fills in attempts, back-off and concurrency.
func Consumers() []consume.Config {
	return []consume.Config{
		{Stream: StreamBooking, Durable: "mailer-booking", Subjects: []string{
			events.TypeSessionBooked, events.TypeSessionStatusChanged, events.TypeEventRegistered,
			events.TypeEventWaitlisted, events.TypeEventPromoted, events.TypeRegistrationCancelled,
			events.TypeEventRescheduled, events.TypeVolunteerApplied, events.TypeContactReceived,
			events.TypeEventAlreadyRegistered,
		}},
		{Stream: StreamAdmin, Durable: "mailer-admin", Subjects: []string{
			events.TypeAccountCreated, events.TypeJobCompleted, events.TypeAccountInvited,
		}},
		{Stream: StreamExporter, Durable: "mailer-exporter", Subjects: []string{
			events.TypeExportCompleted,
		}},
	}
}
