"""Getting xAPI statements into raw_events: the shared pipeline, the direct uploader, the ETL function, S3 bundles."""
