{#- The pieces the key tests share (primary_key.sql, unique_combination.sql).

    repeated_keys: the key values that occur more than once, with their number of rows. Where
    the table has a valid unique index on exactly these columns, PostgreSQL itself keeps the
    key unique (a duplicate fails the insert), so the rows are not grouped: the catalog query
    decides it once (a one-time filter: the grouping scan below it is never started). On a
    view, on a table without such an index, or with a `where` config (the model is then a
    subquery), every row is grouped.

    any_null: the predicate "one of these columns is NULL". -#}
{% macro repeated_keys(model, columns) -%}
{%- set key = columns | join(', ') -%}
select {{ key }}, count(*) as copies
from {{ model }}
{% if model is not string -%}
where not (
    select count(*) > 0
    from pg_catalog.pg_index as indexes
    where
        indexes.indrelid = '{{ model }}'::regclass
        and indexes.indisunique
        and indexes.indisvalid
        and indexes.indpred is null
        and indexes.indexprs is null
        and indexes.indnkeyatts = {{ columns | length }}
        and array(
            select attributes.attname::text
            from pg_catalog.pg_attribute as attributes
            where
                attributes.attrelid = indexes.indrelid
                and attributes.attnum = any(indexes.indkey::int2[])
            order by attributes.attname
        ) = array['{{ columns | sort | join("', '") }}']::text[]
)
{% endif -%}
group by {{ key }}
having count(*) > 1
{%- endmacro %}

{% macro any_null(columns) -%}
{% for column in columns %}{{ column }} is null{{ ' or ' if not loop.last }}{% endfor %}
{%- endmacro %}
