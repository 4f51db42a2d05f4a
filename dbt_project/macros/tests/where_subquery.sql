{#- dbt's `where` config for data tests (it wraps the tested model in a filtering subquery),
    with one placeholder: `__unpublished_days__` stands for "the rows of the days that builds
    changed since the last publication, or every row when that is not known" of the tested
    model's `day` column (audit.unpublished_days, macros/candidate_changes.sql, says why that
    slice is enough). Set for the day-keyed gold marts in dbt_project.yml: an incremental run
    tests the days it rebuilt, not the mart's whole history. Any other `where` is dbt's own. -#}
{% macro default__get_where_subquery(relation) -%}
    {%- set where = config.get('where', '') -%}
    {%- if where -%}
        {%- if '__unpublished_days__' in where -%}
            {%- set days -%}
                (select audit.unpublished_days('{{ relation.identifier }}', 'day'))
            {%- endset -%}
            {%- set where = where | replace(
                '__unpublished_days__', '(' ~ days ~ ' is null or day = any(' ~ days ~ '::date[]))') -%}
        {%- endif -%}
        {%- set filtered -%}
            (select * from {{ relation }} where {{ where }}) dbt_subquery
        {%- endset -%}
        {{ return(filtered) }}
    {%- else -%}
        {{ return(relation) }}
    {%- endif -%}
{%- endmacro %}
