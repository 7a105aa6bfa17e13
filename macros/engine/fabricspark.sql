{#-
    dbt-fabricspark (Microsoft Fabric) declares no parent adapter, so `adapter.dispatch` would
    fall from `fabricspark__` straight to `default__` (DuckDB): each Spark implementation is
    named for it here too. Keep one line per `spark__` macro of the project (a test checks).
-#}

{% macro fabricspark__create_landing_view() %}{{ return(spark__create_landing_view()) }}{% endmacro %}
{% macro fabricspark__create_model_loads() %}{{ return(spark__create_model_loads()) }}{% endmacro %}
{% macro fabricspark__delete_changed_rows(keys, changed) %}{{ return(spark__delete_changed_rows(keys, changed)) }}{% endmacro %}
{% macro fabricspark__dicom_date(value) %}{{ return(spark__dicom_date(value)) }}{% endmacro %}
{% macro fabricspark__dicom_keyword_to_snake_case(keyword) %}{{ return(spark__dicom_keyword_to_snake_case(keyword)) }}{% endmacro %}
{% macro fabricspark__dicom_time(value) %}{{ return(spark__dicom_time(value)) }}{% endmacro %}
{% macro fabricspark__empty_text_list() %}{{ return(spark__empty_text_list()) }}{% endmacro %}
{% macro fabricspark__json_array_elements(json_array) %}{{ return(spark__json_array_elements(json_array)) }}{% endmacro %}
{% macro fabricspark__json_array_first_pn(json_array, component) %}{{ return(spark__json_array_first_pn(json_array, component)) }}{% endmacro %}
{% macro fabricspark__json_array_first_text(json_array) %}{{ return(spark__json_array_first_text(json_array)) }}{% endmacro %}
{% macro fabricspark__json_array_joined_text(json_array) %}{{ return(spark__json_array_joined_text(json_array)) }}{% endmacro %}
{% macro fabricspark__json_array_pns(json_array, component) %}{{ return(spark__json_array_pns(json_array, component)) }}{% endmacro %}
{% macro fabricspark__json_array_texts(json_array) %}{{ return(spark__json_array_texts(json_array)) }}{% endmacro %}
{% macro fabricspark__json_dicom_map(document) %}{{ return(spark__json_dicom_map(document)) }}{% endmacro %}
{% macro fabricspark__json_extract_paths(json_text, paths) %}{{ return(spark__json_extract_paths(json_text, paths)) }}{% endmacro %}
{% macro fabricspark__json_get(json_fragment, key) %}{{ return(spark__json_get(json_fragment, key)) }}{% endmacro %}
{% macro fabricspark__json_items_leaves(items, keys) %}{{ return(spark__json_items_leaves(items, keys)) }}{% endmacro %}
{% macro fabricspark__json_kind(json_fragment) %}{{ return(spark__json_kind(json_fragment)) }}{% endmacro %}
{% macro fabricspark__json_object_error(json_text) %}{{ return(spark__json_object_error(json_text)) }}{% endmacro %}
{% macro fabricspark__json_private_block_renamed(json_text, original, group, creator, index) %}{{ return(spark__json_private_block_renamed(json_text, original, group, creator, index)) }}{% endmacro %}
{% macro fabricspark__json_render(value) %}{{ return(spark__json_render(value)) }}{% endmacro %}
{% macro fabricspark__json_text(json_fragment) %}{{ return(spark__json_text(json_fragment)) }}{% endmacro %}
{% macro fabricspark__landed_file_name(path) %}{{ return(spark__landed_file_name(path)) }}{% endmacro %}
{% macro fabricspark__list_count_where(list_expr, variable, condition) %}{{ return(spark__list_count_where(list_expr, variable, condition)) }}{% endmacro %}
{% macro fabricspark__list_element(list_expr, index) %}{{ return(spark__list_element(list_expr, index)) }}{% endmacro %}
{% macro fabricspark__list_head(list_expr, count) %}{{ return(spark__list_head(list_expr, count)) }}{% endmacro %}
{% macro fabricspark__list_map(list_expr, variable, body) %}{{ return(spark__list_map(list_expr, variable, body)) }}{% endmacro %}
{% macro fabricspark__list_total(list_expr) %}{{ return(spark__list_total(list_expr)) }}{% endmacro %}
{% macro fabricspark__list_where(list_expr, variable, condition) %}{{ return(spark__list_where(list_expr, variable, condition)) }}{% endmacro %}
{% macro fabricspark__make_struct(fields) %}{{ return(spark__make_struct(fields)) }}{% endmacro %}
{% macro fabricspark__matches_fully(value, pattern) %}{{ return(spark__matches_fully(value, pattern)) }}{% endmacro %}
{% macro fabricspark__privacy_function_call(function, arguments, policy) %}{{ return(spark__privacy_function_call(function, arguments, policy)) }}{% endmacro %}
{% macro fabricspark__record_last_load() %}{{ return(spark__record_last_load()) }}{% endmacro %}
{% macro fabricspark__replacing_strategy() %}{{ return(spark__replacing_strategy()) }}{% endmacro %}
{% macro fabricspark__sorted_distinct_list(column) %}{{ return(spark__sorted_distinct_list(column)) }}{% endmacro %}
{% macro fabricspark__sql_error(message) %}{{ return(spark__sql_error(message)) }}{% endmacro %}
{% macro fabricspark__string_literal(text) %}{{ return(spark__string_literal(text)) }}{% endmacro %}
{% macro fabricspark__text_hash(value) %}{{ return(spark__text_hash(value)) }}{% endmacro %}
{% macro fabricspark__type_instant() %}{{ return(spark__type_instant()) }}{% endmacro %}
{% macro fabricspark__type_local_datetime() %}{{ return(spark__type_local_datetime()) }}{% endmacro %}
{% macro fabricspark__value_at_max(value, ordering) %}{{ return(spark__value_at_max(value, ordering)) }}{% endmacro %}
