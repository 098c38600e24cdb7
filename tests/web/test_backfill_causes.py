"""A backfill's failure in plain words for the spellings the run page met in a browser walk against moto: chDB's 404
while reading a single object ('HTTP response code: 404'), and an inventory manifest that is not there."""

from __future__ import annotations

import re

import pytest

from xolap.web.readable_errors import known_causes, readable_cause


@pytest.mark.parametrize(
    "raw",
    [
        "attempt 2 failed, will retry: DatabaseError: Code: 499. DB::Exception: Failed to get object info: No response "
        "body.. HTTP response code: 404: while reading 'x/[a-' in bucket 'walkbucket' on disk 'StorageS3': While "
        "executing ReadFromObjectStorage. (S3_ERROR)",
        "Code: 499. DB::Exception: Failed to get object info: No response body.. HTTP response code: 404 (S3_ERROR)",
    ],
)
def test_a_404_while_reading_an_object_reads_as_a_missing_file(raw):
    assert readable_cause(raw) == "A file named by the run is not in S3 (any more)."


def test_a_missing_manifest_is_named_as_the_manifest():
    raw = "manifest s3://walkbucket/missing/manifest.json does not exist (NoSuchKey)"
    assert readable_cause(raw) == "The manifest is not in S3: check the manifest's s3:// URL."
    # a missing bucket still says the bucket
    bucket = "manifest s3://no-such-bucket-zz/manifest.json does not exist (NoSuchBucket)"
    assert readable_cause(bucket) == "The S3 bucket does not exist."


def test_every_cause_reads_the_same_in_the_browser():
    """The run page matches these patterns in JavaScript (case-insensitive): only the syntax both engines share."""
    for pattern, _words in known_causes():
        assert not re.search(r"\(\?[a-zA-Z<]|\\[AZz]", pattern), pattern
