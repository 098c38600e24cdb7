"""Realistic Torus-shaped course data: `generate()` statements, sinks (JSONL, S3 bundles) and the course catalogue."""

from xolap.generator.generate import CourseDataGenerator, GeneratedStatement, generate

__all__ = ["CourseDataGenerator", "GeneratedStatement", "generate"]
