"""The ETL Lambda: handler (SQS events of S3 notifications → raw_events), notifications, object reads, batching,
dead-letter queue, and `xolap etl` with the zip it builds."""
