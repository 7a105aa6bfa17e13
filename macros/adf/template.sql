{#-
    The ADF template's tables ("Copy DICOM Metadata Changes to ADLS Gen2 in Delta Format"): the
    attributes its instance table projects, as text, by column.
-#}

{#- Its instance table's attribute columns and the tag each one holds, in the template's order. -#}
{% macro adf_instance_attributes() -%}
    {{ return({
        'studydate': '00080020',
        'studydescription': '00081030',
        'issuerofpatientid': '00100021',
        'patientid': '00100020',
        'patientname': '00100010',
        'modality': '00080060',
        'sopclassuid': '00080016',
        'patientbirthdate': '00100030',
        'accessionnumber': '00080050',
        'referringphysicianname': '00080090',
        'modalitiesinstudy': '00080061',
        'performedprocedurestepstartdate': '00400244',
        'manufacturermodelname': '00081090',
        'studytime': '00080030',
        'timezoneoffsetfromutc': '00080201',
        'numberofstudyrelatedseries': '00201206',
        'numberofstudyrelatedinstances': '00201208',
        'seriesnumber': '00200011',
        'seriesdescription': '0008103E',
        'numberofseriesrelatedinstances': '00201209',
        'bodypartexamined': '00180015',
        'laterality': '00200060',
        'seriesdate': '00080021',
        'seriestime': '00080031',
        'instancenumber': '00200013',
        'documenttitle': '00420010',
    }) }}
{%- endmacro %}

{#-
    The Value arrays of the template's instance attributes in a DICOM JSON document, in the order
    of adf_instance_attributes, read in one extraction (one parse of the document).
-#}
{% macro adf_attribute_values(metadata) -%}
    {%- set paths = [] -%}
    {%- for tag in adf_instance_attributes().values() -%}
        {%- do paths.append(dicom_value_path(tag)) -%}
    {%- endfor -%}
    {{ json_extract_paths(metadata, paths) }}
{%- endmacro %}

{#- One of the template's instance attributes, as text, from adf_attribute_values' list. -#}
{% macro adf_attribute_text(attribute_values, column) -%}
    {%- set index = (adf_instance_attributes() | list).index(column) + 1 -%}
    {{ json_array_joined_text(list_element(attribute_values, index)) }}
{%- endmacro %}

{#-
    The template's series and study columns that come from one of the group's instances: the
    most recent one of `instances` (the instance mart) by group `keys`, as most_recent_instance
    orders them. Only those instances' documents are read.
-#}
{% macro adf_group_attributes(instances, keys) -%}
    with

    most_recent as (

        {{ most_recent_instance(
            instances,
            keys,
            [] if 'series_instance_uid' in keys else [{'name': 'series_instance_uid'}],
        ) }}

    ),

    most_recent_values as (

        select
            {%- for key in keys %}
            most_recent.{{ key }},
            {%- endfor %}
            instances.study_date,
            {{ adf_attribute_values('instances.metadata') }} as attribute_values
        from most_recent
        inner join {{ instances }} as instances
            on {{ instance_key_matches('most_recent', 'instances') }}

    )

    select
        {%- for key in keys %}
        {{ key }},
        {%- endfor %}
        study_date,
        {%- for column, alias in [
            ('studydescription', 'study_description'),
            ('issuerofpatientid', 'issuer_of_patient_id'),
            ('patientid', 'patient_id'),
            ('patientname', 'patient_name'),
            ('modality', 'modality'),
        ] %}
        {{ adf_attribute_text('attribute_values', column) }} as {{ alias }}{{ "," if not loop.last }}
        {%- endfor %}
    from most_recent_values
{%- endmacro %}
