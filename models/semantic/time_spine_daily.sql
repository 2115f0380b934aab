{#
  The day-grain time spine MetricFlow joins to (models/semantic/_semantic__models.yml declares it with
  `time_spine:`). dbt's own date_spine macro (dbt-core, no package) gives the same days on DuckDB,
  Postgres and Spark. The bounds cover every contract this project bills (from 2024) with ten years to
  spare; the end date is exclusive. About 4,400 rows: nothing to make incremental.
#}
with

days as (

    {{ dbt.date_spine(
        datepart='day',
        start_date="cast('2024-01-01' as date)",
        end_date="cast('2036-01-01' as date)"
    ) }}

),

final as (

    select cast(date_day as date) as date_day
    from days

)

select * from final
