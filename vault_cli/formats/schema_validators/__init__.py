"""Validators generated from schemas/*.schema.json by fastjsonschema 2.22.3; do not edit.

Regenerate with python scripts/gen_schema_validators.py; vault_cli.formats.schema uses them.
ENTRY: (schema, $defs name or None for the whole schema) -> (module here, function).
"""
# fmt: off
# ruff: noqa

FASTJSONSCHEMA = '2.22.3'

ENTRY = {
    ('entry', None): ('entry', 'validate_https___confide_invalid_schemas_entry_schema_json'),
    ('entry', 'date'): ('entry', 'validate_https___confide_invalid_schemas_entry_schema_json___defs_date'),
    ('entry', 'datetime'): ('entry', 'validate_https___confide_invalid_schemas_entry_schema_json___defs_datetime'),
    ('holders', None): ('holders', 'validate_https___confide_invalid_schemas_holders_schema_json'),
    ('holders', 'date'): ('holders', 'validate_https___confide_invalid_schemas_holders_schema_json___defs_date'),
    ('holders', 'holder'): ('holders', 'validate_https___confide_invalid_schemas_holders_schema_json___defs_holder'),
    ('holders', 'name'): ('holders', 'validate_https___confide_invalid_schemas_holders_schema_json___defs_name'),
    ('holders', 'sealed'): ('holders', 'validate_https___confide_invalid_schemas_holders_schema_json___defs_sealed'),
    ('mark', None): ('mark', 'validate_https___confide_invalid_schemas_mark_schema_json'),
    ('mark', 'change'): ('mark', 'validate_https___confide_invalid_schemas_mark_schema_json___defs_change'),
    ('profile', None): ('profile', 'validate_https___confide_invalid_schemas_profile_schema_json'),
    ('profile', 'date'): ('profile', 'validate_https___confide_invalid_schemas_profile_schema_json___defs_date'),
    ('profile', 'datetime'): ('profile', 'validate_https___confide_invalid_schemas_profile_schema_json___defs_datetime'),
    ('profile', 'holder'): ('profile', 'validate_https___confide_invalid_schemas_profile_schema_json___defs_holder'),
    ('profile', 'optional_date'): ('profile', 'validate_https___confide_invalid_schemas_profile_schema_json___defs_optional_date'),
    ('profile', 'optional_text'): ('profile', 'validate_https___confide_invalid_schemas_profile_schema_json___defs_optional_text'),
    ('profile', 'person'): ('profile', 'validate_https___confide_invalid_schemas_profile_schema_json___defs_person'),
    ('profile', 'profile'): ('profile', 'validate_https___confide_invalid_schemas_profile_schema_json___defs_profile'),
    ('profile', 'text'): ('profile', 'validate_https___confide_invalid_schemas_profile_schema_json___defs_text'),
    ('record', None): ('record', 'validate_https___confide_invalid_schemas_record_schema_json'),
    ('record', 'armored'): ('record', 'validate_https___confide_invalid_schemas_record_schema_json___defs_armored'),
    ('record', 'block'): ('record', 'validate_https___confide_invalid_schemas_record_schema_json___defs_block'),
    ('record', 'date'): ('record', 'validate_https___confide_invalid_schemas_record_schema_json___defs_date'),
    ('record', 'entry'): ('record', 'validate_https___confide_invalid_schemas_record_schema_json___defs_entry'),
    ('record', 'entry_id'): ('record', 'validate_https___confide_invalid_schemas_record_schema_json___defs_entry_id'),
    ('record', 'entry_list'): ('record__entry_list', 'validate_https___confide_invalid_schemas_record_schema_json___defs_entry_list'),
    ('record', 'grant'): ('record', 'validate_https___confide_invalid_schemas_record_schema_json___defs_grant'),
    ('record', 'holder'): ('record', 'validate_https___confide_invalid_schemas_record_schema_json___defs_holder'),
    ('record', 'key_id'): ('record', 'validate_https___confide_invalid_schemas_record_schema_json___defs_key_id'),
    ('record', 'level'): ('record', 'validate_https___confide_invalid_schemas_record_schema_json___defs_level'),
    ('record', 'level_key'): ('record', 'validate_https___confide_invalid_schemas_record_schema_json___defs_level_key'),
    ('record', 'mark'): ('record', 'validate_https___confide_invalid_schemas_record_schema_json___defs_mark'),
    ('record', 'mark_id'): ('record', 'validate_https___confide_invalid_schemas_record_schema_json___defs_mark_id'),
    ('record', 'record_id'): ('record', 'validate_https___confide_invalid_schemas_record_schema_json___defs_record_id'),
    ('record', 'revocation'): ('record', 'validate_https___confide_invalid_schemas_record_schema_json___defs_revocation'),
    ('settings', None): ('settings', 'validate_https___confide_invalid_schemas_settings_schema_json'),
    ('settings', 'levels'): ('settings', 'validate_https___confide_invalid_schemas_settings_schema_json___defs_levels'),
    ('settings', 'retention_rule'): ('settings', 'validate_https___confide_invalid_schemas_settings_schema_json___defs_retention_rule'),
    ('settings', 'role'): ('settings', 'validate_https___confide_invalid_schemas_settings_schema_json___defs_role'),
}
