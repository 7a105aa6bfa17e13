{% test unique_combination_of_columns(model, combination_of_columns) %}

with

grouped as (

    select
        {{ combination_of_columns | join(', ') }},
        count(*) as row_count
    from {{ model }}
    group by {{ combination_of_columns | join(', ') }}
    having count(*) > 1

)

select * from grouped

{% endtest %}

{#- The mart's key (`mart_keys` in dbt_project.yml: what the Delta publication merges on) is unique. -#}
{% test unique_mart_key(model, mart) %}
    {{ test_unique_combination_of_columns(model, var('mart_keys')[mart]) }}
{% endtest %}
