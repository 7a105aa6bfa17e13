-- Every row of the dicom_tags seed must name a dictionary attribute by its keyword, a known
-- level, a supported VR, and the snake_case of the keyword as column name, without duplicates.
-- The failing rows are stored, so a failed build names each row and its problem. A path
-- through sequences (A>B) or a private attribute (0019xx0A) is checked for its level and
-- column name only: extractor/build/seeds.py checks the rest before the job's build starts.

{{ config(store_failures=true) }}

with

tags as (

    select * from {{ ref('dicom_tags') }}

),

dictionary as (

    select * from {{ ref('dicom_dictionary') }}

),

checked as (

    select
        tags.tag,
        tags.keyword,
        tags.column_name,
        case
            when lower(tags.level) not in ('instance', 'series', 'study', 'patient')
                then 'level is not instance, series, study or patient'
            when count(*) over (partition by tags.column_name) > 1 then 'column_name listed twice'
            when {{ matches_fully("coalesce(tags.tag, '')", '.*>.*|[0-9A-Fa-f]{4}[Xx]{2}[0-9A-Fa-f]{2}') }}
                then null
            when not {{ matches_fully("coalesce(tags.tag, '')", '[0-9A-Fa-f]{8}') }}
                then 'tag is not 8 hex digits'
            when dictionary.tag is null then 'tag is not in dicom_dictionary'
            when dictionary.keyword != tags.keyword
                then 'keyword does not match the dictionary: ' || dictionary.keyword
            when tags.column_name != {{ dicom_keyword_to_snake_case('tags.keyword') }}
                then 'column_name is not the snake_case of the keyword'
            when
                left(dictionary.vr, 2) in ('SQ', 'OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'UN', 'AT')
                then 'VR ' || dictionary.vr || ' cannot be projected'
            when count(*) over (partition by upper(tags.tag)) > 1 then 'tag listed twice'
        end as problem
    from tags
    left join dictionary
        on upper(tags.tag) = dictionary.tag

)

select * from checked
where problem is not null
