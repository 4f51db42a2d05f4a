{#- Primary-key test: no row has a NULL in a key column and no key value repeats. One node and
    one query where `unique`/`unique_combination` plus a `not_null` per key column took one
    node and one scan each (dbt's per-node cost is most of an incremental run's tests).

    Where the table has a valid unique index on exactly these columns, PostgreSQL itself keeps
    the key unique (a duplicate fails the insert), so the repeat check is not run: the catalog
    query decides it once (a one-time filter: the grouping scan below it is never started), and
    only the NULL check, the one part the index does not enforce, reads the table (through the
    index for a one-column key). On a view, on a table without such an index, or with a
    `where` config (the model is then a subquery), the repeat check groups every row. The
    failures are the repeated or NULL-holding key values, with their number of rows. -#}
{% test primary_key(model, columns) %}
{%- set columns = [columns] if columns is string else columns -%}
{%- set key = columns | join(', ') -%}
{%- set is_relation = model is not string %}

with

{% if is_relation -%}
enforced_by_index as (

    select count(*) > 0 as is_enforced
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

),

{% endif -%}
repeated as (

    select {{ key }}, count(*) as copies, 'repeated' as failure
    from {{ model }}
    {% if is_relation -%}
    where not (select is_enforced from enforced_by_index)
    {% endif -%}
    group by {{ key }}
    having count(*) > 1

),

null_keys as (

    select {{ key }}, count(*) as copies, 'null in the key' as failure
    from {{ model }}
    where {% for column in columns %}{{ column }} is null{{ ' or ' if not loop.last }}{% endfor %}
    group by {{ key }}

)

select * from repeated
union all
select * from null_keys

{% endtest %}
