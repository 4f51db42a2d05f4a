-- Grain: one row per (brand_id, game_id, player_id): a player's awards in a game, over all
-- its tasks (docs/points.md).
--   avg_minutes: mean of `minutes` over the player's awards in the game whose minutes is not
--     0; NULL when there are none.
--
-- Incremental: a run recomputes every (brand, game, player) that received an award since the
-- last run (whatever its lateness), over all of its awards, and only those.
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['brand_id', 'game_id', 'player_id'],
        on_schema_change='fail',
        indexes=[
            {'columns': ['brand_id', 'game_id', 'player_id'], 'unique': true},
        ],
        post_hook="{{ record_batch_watermark() }}",
    )
}}

{% set watermark = batch_watermark() %}

with

-- not materialized: each use reads silver through its own index (batch_id for what is new,
-- the key for the touched rows) instead of a full copy of the table
awards as not materialized (

    select * from {{ ref('int_points_awards') }}

),

{% if is_incremental() %}
touched_keys as (

    select distinct brand_id, game_id, player_id
    from awards
    where batch_id > {{ watermark }}

),
{% endif %}

scoped as (

    select awards.*
    from awards
    {% if is_incremental() %}
    inner join touched_keys using (brand_id, game_id, player_id)
    {% endif %}

),

final as (

    select
        brand_id,
        game_id,
        player_id,
        count(*) as awards,
        sum(points)::bigint as total_points,
        -- trim_scale: the exact value without trailing zeros (15.25, not 15.2500000000000000)
        trim_scale(avg(minutes) filter (where minutes <> 0)) as avg_minutes

    from scoped
    group by brand_id, game_id, player_id

)

select * from final
