"""The privacy policy: which attributes the lake keeps, drops, pseudonymises or shifts in time.

`policy.py` reads the policy (seeds/dicom_privacy.csv over the built-in profile,
seeds/dicom_privacy_profile.csv, chosen by the `privacy_profile` var of dbt_project.yml);
`keyed.py` derives pseudonyms, UIDs and date offsets from the secret key; `documents.py` applies
a policy to a DICOM JSON document and to the feed's UID columns; `functions.py` offers those as
SQL functions to DuckDB (the dbt-duckdb plugin of `duckdb_plugin.py`) and to Spark, so that the
staging model applies the policy where documents enter the warehouse; the landing zone can apply
it instead (extractor.landing.zone) so that identifiers are never written to the lake.
"""

from extractor.privacy.keyed import KEY_VARIABLE, PrivacyKeyError, check_key
from extractor.privacy.policy import Policy, PolicyError, check_policy, load_policy

__all__ = [
    "KEY_VARIABLE",
    "Policy",
    "PolicyError",
    "PrivacyKeyError",
    "check_key",
    "check_policy",
    "load_policy",
]
