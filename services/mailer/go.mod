module github.com/acube/platform/services/mailer

go 1.26.0

require github.com/acube/platform/libs v0.0.0

replace github.com/acube/platform/libs => ../../libs
