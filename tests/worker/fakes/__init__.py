"""Strict local fakes of the cloud APIs in /work/shared/api-contracts.md."""
