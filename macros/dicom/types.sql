{#-
    DICOM value representations (VR) to SQL types. Each macro takes an expression of one DICOM
    value as text (JSON numbers arrive as their text) and returns the typed value, or null when
    the text is malformed: malformed values never fail a query. Dispatchable per adapter; a
    `default__` that uses only the engine primitives (macros/engine/types.sql) serves Spark too.
-#}

{#- DA: YYYYMMDD -> date. -#}
{% macro dicom_date(value) %}
    {{ return(adapter.dispatch('dicom_date', 'dicom_lake')(value)) }}
{% endmacro %}

{% macro default__dicom_date(value) -%}
    case
        when {{ matches_fully('trim(' ~ value ~ ')', '[0-9]{8}') }}
            then cast(try_strptime(trim({{ value }}), '%Y%m%d') as date)
    end
{%- endmacro %}

{% macro spark__dicom_date(value) -%}
    {%- set t = 'trim(' ~ value ~ ')' -%}
    case
        when {{ matches_fully(t, '[0-9]{8}') }}
            then try_cast(
                substr({{ t }}, 1, 4) || '-' || substr({{ t }}, 5, 2) || '-' || substr({{ t }}, 7, 2)
                as date
            )
    end
{%- endmacro %}

{#- TM: HH[MM[SS[.F{1,6}]]] (the legacy HH:MM:SS form too) -> time. -#}
{% macro dicom_time(value) %}
    {{ return(adapter.dispatch('dicom_time', 'dicom_lake')(value)) }}
{% endmacro %}

{#- The time as `HH:MM:SS[.ffffff]` text, checked and normalised as a time: for both engines. -#}
{% macro dicom_time_text(value) -%}
    {%- set t = "replace(trim(" ~ value ~ "), ':', '')" -%}
    case
        when {{ matches_fully(t, '[0-9]{2}([0-9]{2}([0-9]{2}([.][0-9]{1,6})?)?)?') }}
            then substr({{ t }}, 1, 2)
            || ':' || coalesce(nullif(substr({{ t }}, 3, 2), ''), '00')
            || ':' || {{ dicom_seconds(t, 5) }}
    end
{%- endmacro %}

{% macro default__dicom_time(value) -%}
    try_cast({{ dicom_time_text(value) }} as time)
{%- endmacro %}

{#-
    Spark has no time-of-day type (nor has Delta): the time is text, as the Delta tables
    dicom-lake publishes from DuckDB write it ("14:30:05", "14:30:05.25"), checked by reading it
    as the time of a day.
-#}
{% macro spark__dicom_time(value) -%}
    {%- set instant = "try_cast('1970-01-01 ' || " ~ dicom_time_text(value) ~ " as timestamp_ntz)" -%}
    date_format({{ instant }}, 'HH:mm:ss')
    || coalesce(nullif('.' || regexp_replace(date_format({{ instant }}, 'SSSSSS'), '0+$', ''), '.'), '')
{%- endmacro %}

{#-
    The seconds and fraction of a DICOM time from position `at` of `t` ("00" when absent). A
    leap second (60, which DICOM allows) stays inside its minute as 59.999999: SQL times and
    timestamps have no 60th second, and it still orders after every other instant of it.
-#}
{% macro dicom_seconds(t, at) -%}
    case
        when substr({{ t }}, {{ at }}, 2) = '60' then '59.999999'
        else coalesce(nullif(substr({{ t }}, {{ at }}, 2), ''), '00') || substr({{ t }}, {{ at + 2 }})
    end
{%- endmacro %}

{#-
    DT: YYYY[MM[DD[HH[MM[SS[.F{1,6}]]]]]][&ZZXX] -> timestamp, the local time as written (a
    UTC offset suffix is accepted and not applied, like DA and TM which carry no zone).
-#}
{% macro dicom_datetime(value) %}
    {{ return(adapter.dispatch('dicom_datetime', 'dicom_lake')(value)) }}
{% endmacro %}

{% macro default__dicom_datetime(value) -%}
    {%- set t = "regexp_replace(trim(" ~ value ~ "), '[+-][0-9]{4}$', '')" -%}
    case
        when {{ matches_fully(
            'trim(' ~ value ~ ')',
            '[0-9]{4}([0-9]{2}([0-9]{2}([0-9]{2}([0-9]{2}([0-9]{2}([.][0-9]{1,6})?)?)?)?)?)?([+-][0-9]{4})?'
        ) }}
            then try_cast(
                substr({{ t }}, 1, 4)
                || '-' || coalesce(nullif(substr({{ t }}, 5, 2), ''), '01')
                || '-' || coalesce(nullif(substr({{ t }}, 7, 2), ''), '01')
                || ' ' || coalesce(nullif(substr({{ t }}, 9, 2), ''), '00')
                || ':' || coalesce(nullif(substr({{ t }}, 11, 2), ''), '00')
                || ':' || {{ dicom_seconds(t, 13) }}
                as {{ type_local_datetime() }}
            )
    end
{%- endmacro %}

{#-
    IS, SL, SS, UL, US, SV, UV -> bigint. A whole number written with a zero fraction ("5.0",
    which writers send for IS) is that number; "abc" or "1.5" -> null.
-#}
{% macro dicom_integer(value) %}
    {{ return(adapter.dispatch('dicom_integer', 'dicom_lake')(value)) }}
{% endmacro %}

{% macro default__dicom_integer(value) -%}
    case
        when {{ matches_fully('trim(' ~ value ~ ')', '[+-]?[0-9]+([.]0*)?') }}
            then try_cast(regexp_replace(trim({{ value }}), '[.]0*$', '') as bigint)
    end
{%- endmacro %}

{#- DS, FL, FD -> double. -#}
{% macro dicom_decimal(value) %}
    {{ return(adapter.dispatch('dicom_decimal', 'dicom_lake')(value)) }}
{% endmacro %}

{% macro default__dicom_decimal(value) -%}
    case
        when {{ matches_fully(
            'trim(' ~ value ~ ')', '[+-]?([0-9]+[.]?[0-9]*|[.][0-9]+)([eE][+-]?[0-9]+)?'
        ) }}
            then try_cast(trim({{ value }}) as double)
    end
{%- endmacro %}

{#- Every other VR (UI, CS, LO, SH, LT, ST, UT, AE, AS, UC, UR) stays text. -#}
{% macro dicom_text(value) %}
    {{ return(adapter.dispatch('dicom_text', 'dicom_lake')(value)) }}
{% endmacro %}

{% macro default__dicom_text(value) -%}
    cast({{ value }} as string)
{%- endmacro %}

{#- The VR family of a dictionary VR ("US or SS" -> integer). -#}
{% macro dicom_vr_family(vr) -%}
    {%- set first = ((vr or '') | trim | upper)[:2] -%}
    {%- if first == 'DA' -%}date
    {%- elif first == 'TM' -%}time
    {%- elif first == 'DT' -%}datetime
    {%- elif first in ['IS', 'SL', 'SS', 'UL', 'US', 'SV', 'UV'] -%}integer
    {%- elif first in ['DS', 'FL', 'FD'] -%}decimal
    {%- elif first == 'PN' -%}person_name
    {%- elif first in ['AE', 'AS', 'CS', 'LO', 'LT', 'SH', 'ST', 'UC', 'UI', 'UR', 'UT'] -%}text
    {%- else -%}unsupported
    {%- endif -%}
{%- endmacro %}

{#- One DICOM value as text -> its SQL type, chosen by VR. -#}
{% macro dicom_typed(value, vr) -%}
    {%- set family = dicom_vr_family(vr) -%}
    {%- if family == 'date' -%}{{ dicom_date(value) }}
    {%- elif family == 'time' -%}{{ dicom_time(value) }}
    {%- elif family == 'datetime' -%}{{ dicom_datetime(value) }}
    {%- elif family == 'integer' -%}{{ dicom_integer(value) }}
    {%- elif family == 'decimal' -%}{{ dicom_decimal(value) }}
    {%- else -%}{{ dicom_text(value) }}
    {%- endif -%}
{%- endmacro %}

{#- The VRs the dictionary allows for an attribute ("US or SS" -> ['US', 'SS']). -#}
{% macro dicom_vr_alternatives(vr) -%}
    {%- set alternatives = [] -%}
    {%- for part in ((vr or '') | string).split(' or ') if part | trim -%}
        {%- do alternatives.append(part | trim | upper) -%}
    {%- endfor -%}
    {{ return(alternatives) }}
{%- endmacro %}

{#-
    True when the VR an attribute declares in the document is one the dictionary allows, or is
    absent (then the dictionary VR types it). A mismatch nulls the attribute's typed value.
-#}
{% macro dicom_vr_matches(declared_vr, vr) -%}
    ({{ declared_vr }} is null or {{ declared_vr }} in (
        {%- for alternative in dicom_vr_alternatives(vr) -%}
            '{{ alternative }}'{{ ", " if not loop.last }}
        {%- endfor -%}
    ))
{%- endmacro %}

{#-
    A projected column from the attribute's JSON Value array: a scalar when the dictionary VM is
    1, otherwise the list of all values (never truncated). PN gives the requested component.
    With `declared_vr` (an expression of the VR the document declares), a declared VR the
    dictionary does not allow gives null.
-#}
{% macro dicom_value(value_array, vr, vm, component='Alphabetic', declared_vr=none) -%}
    {%- set multi = (vm | string | trim) != '1' -%}
    {%- if declared_vr is not none %}case when {{ dicom_vr_matches(declared_vr, vr) }} then {% endif -%}
    {%- if dicom_vr_family(vr) == 'person_name' -%}
        {%- if multi -%}{{ json_array_pns(value_array, component) }}
        {%- else -%}{{ json_array_first_pn(value_array, component) }}
        {%- endif -%}
    {%- elif multi -%}
        {{ list_map(json_array_texts(value_array), 'v', dicom_typed('v', vr)) }}
    {%- else -%}
        {{ dicom_typed(json_array_first_text(value_array), vr) }}
    {%- endif -%}
    {%- if declared_vr is not none %} end{% endif -%}
{%- endmacro %}
